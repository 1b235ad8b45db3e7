"""The one place that reads the kit's modes from the environment.

Why a module of its own: notebooks, labs, the grader and the tests all need to agree on
what FAST mode means. Every chapter starts with ``from kerascourse import settings`` and
asks it for epochs and data sizes instead of reading environment variables itself.

Environment variables:
    KERASCOURSE_FAST=1   shrink data and epochs so a notebook runs in seconds (CI, tests).
    KERASCOURSE_SEED     global seed for notebooks and the grader. Defaults to 42.
    KERASCOURSE_DATA     directory for downloaded (online) datasets. Defaults to pooch's
                         per-user cache directory.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

FAST_ENV = "KERASCOURSE_FAST"
SEED_ENV = "KERASCOURSE_SEED"
DATA_ENV = "KERASCOURSE_DATA"


def is_fast() -> bool:
    """Return True when FAST mode is on (``KERASCOURSE_FAST=1``, ``true`` or ``yes``).

    Read on every call so a test can flip the variable; the module-level ``FAST`` is the
    value at import time, which is what notebooks use.
    """
    return os.environ.get(FAST_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def seed() -> int:
    """Return the course seed (``KERASCOURSE_SEED``). Defaults to `42`."""
    raw = os.environ.get(SEED_ENV, "42")
    try:
        return int(raw)
    except ValueError:
        msg = (
            f"{SEED_ENV} must be an integer. Received: {SEED_ENV}={raw!r}. Unset it or use e.g. 42."
        )
        raise ValueError(msg) from None


FAST: bool = is_fast()
SEED: int = seed()


def epochs(full: int, fast: int = 1) -> int:
    """Number of epochs to train: `full` normally, `fast` in FAST mode.

    Example:
        >>> EPOCHS = epochs(20)  # 20 epochs for real, 1 under KERASCOURSE_FAST=1
    """
    if full < 1 or fast < 1:
        msg = f"epochs must be positive integers. Received: full={full}, fast={fast}."
        raise ValueError(msg)
    return fast if is_fast() else full


def size(full: int | None, fast: int) -> int | None:
    """A data size: `full` normally (None means "all"), `fast` in FAST mode."""
    return fast if is_fast() else full


def subset(*arrays: Sequence[Any], fast: int) -> tuple[Any, ...] | Any:
    """Keep the first `fast` rows of each array in FAST mode; return them unchanged otherwise.

    The bundled datasets are stored already shuffled, so the first rows are a fair sample
    and the result is the same on every machine. One array in, one array out.

    Example:
        >>> x_train, y_train = subset(x_train, y_train, fast=512)
    """
    if not arrays:
        msg = "subset() needs at least one array, e.g. subset(x_train, y_train, fast=512)."
        raise ValueError(msg)
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1:
        msg = f"subset() needs arrays of one length; received lengths {sorted(lengths)}."
        raise ValueError(msg)
    out = tuple(a[:fast] for a in arrays) if is_fast() else tuple(arrays)
    return out[0] if len(out) == 1 else out


def data_dir() -> str | None:
    """Directory for downloaded datasets, or None for pooch's default cache."""
    return os.environ.get(DATA_ENV) or None


def describe() -> dict[str, Any]:
    """The current settings as a dict, for the doctor and notebook headers."""
    return {"fast": is_fast(), "seed": seed(), "data_dir": data_dir()}
