"""Errors and the one warning of ``kerascourse.datasets``.

Why a module of its own: ``import kerascourse.datasets`` must work with the standard
library alone (the package is imported in bare environments, e.g. by the grader's doctor),
and a notebook must be able to write ``except MissingDataError`` without paying for numpy.
So this module imports nothing beyond ``difflib``.

Every message follows the house rule: what was wrong, what we received, what was expected
and the command that fixes it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "DataIntegrityError",
    "DatasetUnavailableError",
    "MissingDataError",
    "OfflineFallbackWarning",
    "UnknownDatasetError",
    "rebuild_command",
    "short_hash",
    "unknown_name_message",
]


class UnknownDatasetError(ValueError):
    """A dataset name that is in no registry. The message lists the valid names."""


class MissingDataError(FileNotFoundError):
    """A bundled file (or the source a rebuild needs) is not where it should be.

    The message names the path and the command that recreates the file.
    """


class DataIntegrityError(ValueError):
    """A file exists but its SHA256 is not the one the registry expects.

    Like pooch, the message gives the expected and the received hash; it also names the
    rebuild command (bundled files) or the likely cause (downloads).
    """


class DatasetUnavailableError(RuntimeError):
    """An online dataset could not be downloaded (offline, firewall, server down).

    The message names the bundled alternative, e.g. ``load("digits28")``, and the cause.
    """


class OfflineFallbackWarning(UserWarning):
    """``load_online(..., fallback=True)`` returned the bundled alternative instead.

    A warning, not an error, because the notebook still runs; the learner can act on it
    (connect and re-run) and the results differ from the full dataset.
    """


def rebuild_command(name: str) -> str:
    """The shell command that rebuilds the bundled file(s) of `name`."""
    return f"python -m kerascourse.datasets rebuild {name}"


def short_hash(value: str) -> str:
    """Shorten a hex digest for messages (``3f1c9a0e…77b2c41d``); short ones stay as they are."""
    return value if len(value) <= 20 else f"{value[:8]}…{value[-8:]}"


def unknown_name_message(what: str, name: object, choices: Iterable[str], hint: str = "") -> str:
    """``Unknown dataset 'digts'. Available: [...]. Did you mean 'digits'?`` plus a hint."""
    choices = sorted(choices)
    msg = f"Unknown {what} {name!r}. Available: {choices}."
    if isinstance(name, str):
        close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
        if close:
            msg += f" Did you mean {close[0]!r}?"
    if hint:
        msg += f" {hint}"
    return msg
