"""Lab 04's scorers: the trusted score of an exported callback, and the notebook's self-check.

Why the lab scores its own export: what it exports is code (the source of the learner's
class), not an architecture, so the trusted engine hands it over through the spec's
``score_export`` hook (:func:`score_callback`), and the self-check through ``local_scorer``
(:func:`local_scorer`). Both run the same named checks (:mod:`.checks`) on the same runs
(:mod:`.runs`); only the client differs: a sandboxed worker in the grader, the class
itself in the learner's kernel. The result is built with the engine's own
:func:`~kerascourse.autograder.trusted.scored_result` and
:func:`~kerascourse.autograder.trusted.zero_result`, so it scores and reads like any lab's.

Importing this module imports no Keras.
"""

from __future__ import annotations

import ast
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kerascourse.autograder.core.results import CheckResult, GradingError, SpecificationError
from kerascourse.autograder.core.spec import LabSpec
from kerascourse.autograder.labs.lab04_callbacks.checks import STEPS
from kerascourse.autograder.labs.lab04_callbacks.local import LocalClient
from kerascourse.autograder.labs.lab04_callbacks.rules import CLASS_NAME, LAB_ID
from kerascourse.autograder.labs.lab04_callbacks.runs import CallbackRuns
from kerascourse.autograder.labs.lab04_callbacks.sandboxed import SandboxedClient
from kerascourse.autograder.trusted import (
    FLAG_NO_MODEL,
    TrustedResult,
    default_sandbox,
    run_step,
    scored_result,
    zero_result,
)

__all__ = ["CallbackScorer", "local_scorer", "score_callback", "source_problem"]


class CallbackScorer(CallbackRuns):
    """Runs each scenario once, when a check first needs it, and answers the named checks.

    One client (one worker process in the grader) serves every run; :meth:`close` stops it.
    Constructed like :class:`~.runs.CallbackRuns` (a client factory and the seed).
    """

    def run_check(self, name: str) -> tuple[CheckResult, GradingError | None]:
        """Run one named check (the interface of :class:`trusted.Scorer`)."""
        return run_step(STEPS, name, self, LAB_ID, SpecificationError)


def source_problem(source: str) -> str:
    """Why the exported source cannot be graded ('' when it can): syntax, no class."""
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        return f"submission_callback.py does not parse: {err.msg} (line {err.lineno})"
    names = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    if CLASS_NAME not in names:
        return f"submission_callback.py defines no class {CLASS_NAME} (classes: {names or 'none'})"
    return ""


def score_callback(
    lab: LabSpec,
    source: str | None,
    config: Any,
    *,
    path: str | None = None,
    sandbox: tuple[Any, Any, Sequence[Path]] | None = None,
) -> TrustedResult:
    """Score an exported callback source (None: nothing was exported) in this process.

    The learner's code runs only in the sandboxed worker; this process trains and judges.
    Never raises for anything the submission did. This is lab04's ``score_export`` hook
    (see :class:`~kerascourse.autograder.core.spec.LabSpec`); `sandbox` defaults to
    :func:`~kerascourse.autograder.trusted.default_sandbox`.
    """
    start = time.perf_counter()
    seed = config.for_lab(lab.lab_id).seed
    settings = {"seed": seed, "public_defaults": not config.is_private}
    problem = "" if source is None else source_problem(source)
    if source is None or problem:
        measured = problem or f"no {lab.export_file} was found"
        result = CheckResult(
            "export",
            False,
            measured,
            f"the file {lab.export_file} written by the notebook's last cell",
            f"Define class {CLASS_NAME} in its cell and run the whole notebook (Kernel > "
            "Restart & Run All) so that the last cell exports it, then submit again.",
        )
        out = zero_result(lab, path, result, FLAG_NO_MODEL, settings)
        out.seconds = time.perf_counter() - start
        return out
    box = sandbox or default_sandbox()
    scorer = CallbackScorer(lambda: SandboxedClient(source, CLASS_NAME, box), seed)
    return scored_result(lab, scorer, path, settings, start, finish=scorer.close)


def local_scorer(cls: type, seed: int) -> CallbackScorer:
    """The notebook's self-check: the same runs and checks, the class called in-process.

    This is lab04's ``local_scorer`` hook (what ``selfcheck.lab04(grade_id, cls)`` runs).

    Raises:
        TypeError: `cls` is not a subclass of ``keras.callbacks.Callback`` (an instance,
            say); the message says to pass the class itself.
    """
    from kerascourse.autograder.checks.keras_utils import import_keras

    keras = import_keras()
    if not (isinstance(cls, type) and issubclass(cls, keras.callbacks.Callback)):
        got = f"an instance of {type(cls).__name__}" if not isinstance(cls, type) else cls
        msg = (
            f"Pass the callback class itself (e.g. RelativeEarlyStopping), a subclass of "
            f"keras.callbacks.Callback; got {got}. The grader creates its own instances."
        )
        raise TypeError(msg)
    return CallbackScorer(lambda: LocalClient(cls), seed)
