"""In-kernel self-checks: the trusted grader's steps, run in the learner's notebook.

Why the same code path: a learner must see, before submitting, the very messages the
grader will produce. So a test cell does not re-implement a check: it exports the model's
architecture (``model.to_json()``), rebuilds it exactly as the trusted grader does
(``safe_mode=True``, built-in layers only) and runs the lab's named checks through
:class:`kerascourse.autograder.trusted.Scorer` with the *public* defaults (bundled data,
public seed and thresholds). A failure prints every message and raises the check's own
error (:class:`ArchitectureError`, :class:`BudgetExceededError`, ...), so nbgrader marks
the cell failed. A lab whose export is not an architecture (lab04's callback class)
brings its own scorer (``LabSpec.local_scorer``), run the same way.

Every registered lab has a shortcut named by its number: ``selfcheck.lab01(grade_id,
model)`` is ``check("lab01_functional_api", grade_id, model)``. The shortcuts come from
the registry (:func:`shortcut`), so a new lab needs no edit here.

This is feedback, not the grade: the student's kernel can patch anything, so the score
that counts comes from ``python -m kerascourse.autograder.trusted`` in another process,
possibly with an instructor's private data and thresholds.

Importing this module imports no Keras.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from typing import Any

from kerascourse.autograder.core.config import GraderConfig
from kerascourse.autograder.core.registry import get_lab, lab_ids
from kerascourse.autograder.core.results import ArchitectureError, CheckResult, GradingError
from kerascourse.autograder.core.spec import LabSpec
from kerascourse.autograder.trusted.engine import Scorer

#: Plus one shortcut per registered lab (``lab00``, ``lab01``, ...: see :func:`shortcut`).
__all__ = ["callback_source", "check", "shortcut", "shortcuts"]

PARTS = ("visible", "hidden", "all")
#: A shortcut's name: ``lab`` and the lab's number, the start of its id (``lab01``).
SHORTCUT = re.compile(r"lab\d+")


class CheckReport(list):
    """The passed :class:`CheckResult` list of one test cell, shown as one short line.

    Why: a test cell's last expression is displayed by Jupyter; the results' full reprs
    would repeat every message already printed above it as a wall of dataclass fields.
    """

    def __repr__(self) -> str:
        names = ", ".join(r.check for r in self)
        return f"All {len(self)} check(s) passed: {names}."


#: One scorer per (lab, architecture) in this kernel: the grader's training run is shared
#: by the cells that need it (time ratio, device, quality) instead of repeated.
_SCORERS: dict[tuple[str, str], Any] = {}


def _lab_scorer(lab: LabSpec, subject: Any) -> Any:
    """The lab's own self-check scorer for this subject (a redefined class gets a new one).

    ``lab.local_scorer`` checks the subject (lab04: a callback class) and raises the
    :class:`TypeError` that names what to pass; only a scorer it made is kept.
    """
    assert lab.local_scorer is not None
    name = getattr(subject, "__qualname__", type(subject).__qualname__)
    key = (lab.lab_id, f"{name}@{id(subject)}")
    scorer = _SCORERS.get(key)
    if scorer is None:
        scorer = lab.local_scorer(subject, GraderConfig().seed)
        _SCORERS.clear()
        _SCORERS[key] = scorer
    return scorer


def _scorer(lab_id: str, model: Any) -> Any:
    from kerascourse.autograder.checks.keras_utils import require_model

    lab = get_lab(lab_id)
    if lab.local_scorer is not None:
        return _lab_scorer(lab, model)

    require_model(model, "model")
    try:
        text = model.to_json()
    except Exception as err:  # noqa: BLE001 - whatever Keras raises, the learner needs the fix
        result = CheckResult(
            "export",
            False,
            f"model.to_json() failed ({type(err).__name__}: {str(err)[:200]})",
            "a model the grader can export and rebuild",
            "Build the model with the functional API from built-in layers (no subclassing, "
            "no custom layers) so that model.to_json() works.",
        )
        raise ArchitectureError(result) from None
    key = (lab_id, hashlib.sha256(text.encode("utf-8")).hexdigest())
    scorer = _SCORERS.get(key)
    if scorer is None:
        scorer = Scorer(get_lab(lab_id), GraderConfig(), deterministic=False)
        scorer.load(text)  # raises the grader's refusal (Lambda, custom layer) as is
        _SCORERS.clear()  # keep only the latest architecture
        _SCORERS[key] = scorer
    return scorer


def check(
    lab_id: str, grade_id: str, model: Any, *, part: str = "visible", quiet: bool = False
) -> list[CheckResult]:
    """Run a grade cell's checks on ``model`` the way the trusted grader does.

    Args:
        lab_id: the lab (``"lab01_functional_api"``).
        grade_id: the grade cell (``"q2_budget"``).
        model: the learner's ``keras.Model``, or what the lab's ``local_scorer`` takes
            (lab04: the callback class).
        part: ``"visible"`` (the student version's test), ``"hidden"`` (the grader's
            extra checks) or ``"all"``. Defaults to `"visible"`.
        quiet: do not print the messages. Defaults to `False`.

    Returns:
        The check results when every check passed.

    Raises:
        GradingError: the first failed check's own error type, after printing all results.
    """
    if part not in PARTS:
        msg = f"part must be one of {list(PARTS)}. Received: part={part!r}."
        raise ValueError(msg)
    cell = get_lab(lab_id).cell(grade_id)
    names = {"visible": cell.visible, "hidden": cell.hidden, "all": cell.checks}[part]
    scorer = _scorer(lab_id, model)
    results: list[CheckResult] = []
    first_error: GradingError | None = None
    for name in names:
        result, error = scorer.run_check(name)
        results.append(result)
        if not quiet:
            print(result.message())  # noqa: T201 - the learner's feedback in the notebook
        if first_error is None and not result.passed:
            first_error = error or GradingError(result)
    if first_error is not None:
        raise first_error.with_traceback(None)
    return CheckReport(results)


def shortcuts() -> dict[str, str]:
    """Shortcut name -> lab id, for every registered lab (``{"lab01": "lab01_functional_api"}``)."""
    out: dict[str, str] = {}
    for lab_id in lab_ids():
        name = lab_id.split("_")[0]
        if SHORTCUT.fullmatch(name):
            out[name] = lab_id
    return out


@functools.cache
def shortcut(name: str) -> Callable[..., list[CheckResult]]:
    """``selfcheck.labNN``: :func:`check` for the registered lab whose id starts ``labNN_``.

    Example:
        >>> selfcheck.lab01("q1_io_names_shapes", model)  # doctest: +SKIP
        [ok] inputs: input 'image' with shape (28, 28, 1); allowed: ...

    Raises:
        AttributeError: no registered lab has that number; the message lists those that do.
    """
    known = shortcuts()
    if name not in known:
        msg = (
            f"selfcheck has no lab {name!r}. Registered labs: "
            f"{', '.join(f'{n} ({lab_id})' for n, lab_id in known.items())}. "
            "Check the lab's number, or call selfcheck.check(lab_id, grade_id, model)."
        )
        raise AttributeError(msg)
    lab_id = known[name]

    def run(grade_id: str, model: Any, *, part: str = "visible") -> list[CheckResult]:
        return check(lab_id, grade_id, model, part=part)

    run.__name__ = run.__qualname__ = name
    run.__doc__ = (
        f"Self-check one grade cell of {lab_id} (see :func:`check`): ``{name}(grade_id, "
        "model, part='visible')``; ``model`` is what the lab's test cells pass (a Keras "
        "model, or lab04's callback class)."
    )
    return run


def __getattr__(name: str) -> Callable[..., list[CheckResult]]:
    """``selfcheck.lab01`` and the other shortcuts, made on first use (see :func:`shortcut`)."""
    if SHORTCUT.fullmatch(name):
        return shortcut(name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    """The module's names and the shortcuts (what tab completion offers)."""
    return sorted([*globals(), *shortcuts()])


def callback_source(cls: type) -> str:
    """The source of the notebook cell (or module) that defines `cls`, for the grader.

    Why the whole cell: the grader runs the exported text on its own, so the imports and
    helpers written next to the class travel with it. A class defined in a notebook has
    no file, but IPython keeps each cell's text where the class's methods point to.

    Raises:
        TypeError: `cls` has no method defined in Python code (nothing to export).
    """
    import linecache

    for value in vars(cls).values():
        func = getattr(value, "__func__", value)
        code = getattr(func, "__code__", None)
        if code is not None:
            lines = linecache.getlines(code.co_filename)
            if lines:
                return "".join(lines)
    msg = (
        f"Cannot find the source of {cls!r}: define it with `class ...:` in a notebook cell "
        "(with at least one method) and run that cell again."
    )
    raise TypeError(msg)
