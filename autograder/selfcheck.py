"""In-kernel self-checks: the trusted grader's steps, run in the learner's notebook.

Why the same code path: a learner must see, before submitting, the very messages the
grader will produce. So a test cell does not re-implement a check: it exports the model's
architecture (``model.to_json()``), rebuilds it exactly as the trusted grader does
(``safe_mode=True``, built-in layers only) and runs the lab's named checks through
:class:`kerascourse.autograder.trusted.Scorer` with the *public* defaults (bundled data,
public seed and thresholds). A failure prints every message and raises the check's own
error (:class:`ArchitectureError`, :class:`BudgetExceededError`, ...), so nbgrader marks
the cell failed.

This is feedback, not the grade: the student's kernel can patch anything, so the score
that counts comes from ``python -m kerascourse.autograder.trusted`` in another process,
possibly with an instructor's private data and thresholds.

Importing this module imports no Keras.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .config import GraderConfig
from .labspec import get_lab
from .results import ArchitectureError, CheckResult, GradingError
from .trusted import Scorer

__all__ = [
    "callback_source",
    "check",
    "lab00",
    "lab01",
    "lab02",
    "lab03",
    "lab04",
    "lab05",
    "lab06",
]

PARTS = ("visible", "hidden", "all")


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
_SCORERS: dict[tuple[str, str], Scorer] = {}


def _callback_scorer(lab_id: str, cls: Any) -> Any:
    """The callback lab's scorer for this class (a redefined class gets a new one)."""
    from ._keras_utils import import_keras
    from .lab04 import local_scorer

    keras = import_keras()
    if not (isinstance(cls, type) and issubclass(cls, keras.callbacks.Callback)):
        got = f"an instance of {type(cls).__name__}" if not isinstance(cls, type) else cls
        msg = (
            f"Pass the callback class itself (e.g. RelativeEarlyStopping), a subclass of "
            f"keras.callbacks.Callback; got {got}. The grader creates its own instances."
        )
        raise TypeError(msg)
    key = (lab_id, f"{cls.__qualname__}@{id(cls)}")
    scorer = _SCORERS.get(key)
    if scorer is None:
        scorer = local_scorer(cls, GraderConfig().seed)
        _SCORERS.clear()
        _SCORERS[key] = scorer
    return scorer


def _scorer(lab_id: str, model: Any) -> Scorer:
    from ._keras_utils import require_model

    if get_lab(lab_id).submission == "callback":
        return _callback_scorer(lab_id, model)

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
        model: the learner's ``keras.Model`` (lab04: the callback class).
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


def lab01(grade_id: str, model: Any, *, part: str = "visible") -> list[CheckResult]:
    """Self-check one grade cell of lab 01 (see :func:`check`).

    Example:
        >>> selfcheck.lab01("q1_io_names_shapes", model)  # doctest: +SKIP
        [ok] inputs: input 'image' with shape (28, 28, 1); allowed: ...
    """
    return check("lab01_functional_api", grade_id, model, part=part)


def lab00(grade_id: str, model: Any, *, part: str = "visible") -> list[CheckResult]:
    """Self-check one grade cell of lab 00 (see :func:`check`).

    Example:
        >>> selfcheck.lab00("q2_tuned", model)  # doctest: +SKIP
        [ok] optimizer: Adam with learning rate 0.01; allowed: ...
    """
    return check("lab00_tf_keras_foundations", grade_id, model, part=part)


def lab02(grade_id: str, model: Any, *, part: str = "visible") -> list[CheckResult]:
    """Self-check one grade cell of lab 02 (see :func:`check`).

    Example:
        >>> selfcheck.lab02("q1_shared_encoder", model)  # doctest: +SKIP
        [ok] shared_layer: layer 'encoder' is called 2 times; allowed: ...
    """
    return check("lab02_multi_io_models", grade_id, model, part=part)


def lab03(grade_id: str, model: Any, *, part: str = "visible") -> list[CheckResult]:
    """Self-check one grade cell of lab 03 (see :func:`check`).

    Example:
        >>> selfcheck.lab03("q2_residual_block", model)  # doctest: +SKIP
        [ok] residual_blocks: blocks res1, ..., res8 as specified; allowed: ...
    """
    return check("lab03_residual_inception", grade_id, model, part=part)


def lab05(grade_id: str, model: Any, *, part: str = "visible") -> list[CheckResult]:
    """Self-check one grade cell of lab 05 (see :func:`check`)."""
    return check("lab05_transfer_learning", grade_id, model, part=part)


def lab06(grade_id: str, model: Any, *, part: str = "visible") -> list[CheckResult]:
    """Self-check one grade cell of lab 06 (see :func:`check`)."""
    return check("lab06_sentiment_lstm", grade_id, model, part=part)


def lab04(grade_id: str, callback_class: Any, *, part: str = "visible") -> list[CheckResult]:
    """Self-check one grade cell of lab 04 with the callback *class* (see :func:`check`).

    The grader's training runs are the trusted grader's, run in this kernel with the
    public seed; the callback sees the same restricted ``self.model`` as in the grader.
    """
    return check("lab04_callbacks", grade_id, callback_class, part=part)


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
