"""The trusted scorer: the score that counts, from a process that never ran student code.

Why a separate process: anything computed in the student's kernel can be patched,
hard-coded or hidden by the student's own code. The trusted scorer takes only the
architecture a lab exports (``submission_model.json``, the text of ``model.to_json()``),
rebuilds it with ``safe_mode=True`` after refusing anything but built-in Keras objects,
and then measures everything itself (:mod:`.measure`): architecture checks on the
*rebuilt* model, parameters and FLOPs, a training run with a fixed seed on grader-held
data (timed per epoch), the same for a reference model (for the time ratio), the device,
and the accuracy computed by grader code. Every autograded grade cell of the lab is
scored from those checks (each lab's spec lists them by name, :mod:`.steps` runs them).

The engine knows no lab. A lab whose export is not an architecture (lab04's callback
source) declares ``LabSpec.score_export``, and :func:`score_submission` hands it the
export; such a lab builds its result with :func:`scored_result` (every cell through
:func:`score_cell`) and :func:`zero_result`.

Command line: :mod:`.cli` (``python -m kerascourse.autograder.trusted``). The in-kernel
self-check (:mod:`kerascourse.autograder.selfcheck`) runs the very same steps through
:class:`Scorer`, so a learner sees the grader's messages before submitting.

Importing this module imports no Keras.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from kerascourse.autograder.core.config import GraderConfig, load_config
from kerascourse.autograder.core.registry import get_lab
from kerascourse.autograder.core.results import (
    ArchitectureError,
    CheckResult,
    GraderBugError,
    GradingError,
)
from kerascourse.autograder.core.spec import GradeCell, LabSpec
from kerascourse.autograder.trusted.measure import Measurer
from kerascourse.autograder.trusted.result import (
    FLAG_GRADER_ERROR,
    FLAG_NO_MODEL,
    FLAG_REFUSED,
    CellScore,
    TrustedResult,
)
from kerascourse.autograder.trusted.steps import STEPS, run_step

__all__ = [
    "FLAG_GRADER_ERROR",
    "FLAG_NO_MODEL",
    "FLAG_REFUSED",
    "STEPS",
    "CellScore",
    "Scorer",
    "TrustedResult",
    "score_cell",
    "score_json",
    "score_submission",
    "scored_result",
    "zero_result",
]


class CheckRunner(Protocol):
    """What :func:`score_cell` scores with: :class:`Scorer`, or a lab's own scorer."""

    def run_check(self, name: str) -> tuple[CheckResult, GradingError | None]:
        """Run the named check; its result and the error its failure raises (or None)."""
        ...

    def measurements(self) -> dict[str, Any]:
        """Numbers behind the scores, for the result's ``measurements``."""
        ...


class Scorer(Measurer):
    """Scores one architecture for one lab: :class:`Measurer`'s measurements, judged by
    the named steps of :data:`STEPS`.

    Constructing it stores its arguments only (see :class:`Measurer` for them);
    :meth:`load` rebuilds the model, :meth:`run_check` runs one named step.
    """

    def run_check(self, name: str) -> tuple[CheckResult, GradingError | None]:
        """Run one named check; return its result and the error a failure raises.

        A failure caused by the submission comes back as its :class:`GradingError`; a
        grader bug as a failed result whose check name ends in ``"(grader error)"``.
        """
        return run_step(STEPS, name, self, self.lab.lab_id)


# --------------------------------------------------------------------------- scoring


def zero_result(
    lab: LabSpec, path: str | None, result: CheckResult, flag: str, config: dict[str, Any]
) -> TrustedResult:
    """The result of an export that cannot be scored: 0 on every autograded cell.

    Every cell carries the same failed `result` (why: missing, refused, oversized), so the
    learner reads the reason under each test, and the result the `flag` the instructor's
    summary counts (``FLAG_NO_MODEL``, ``FLAG_REFUSED``). `config` is the settings dict
    the result file records. Labs that score their own export (``LabSpec.score_export``)
    use it too.
    """
    cells = {
        cell.grade_id: CellScore(cell.grade_id, 0.0, float(cell.points), [result])
        for cell in lab.autograded
    }
    return TrustedResult(lab.lab_id, path, cells, flags=[flag], config=config)


def score_cell(scorer: CheckRunner, cell: GradeCell, flags: list[str]) -> CellScore:
    """Run every check of `cell` on `scorer` and score it all-or-nothing, like nbgrader.

    A check that failed by a grader bug (``details["grader_error"]``) adds
    ``FLAG_GRADER_ERROR`` to `flags` (once), so the instructor reviews that result.
    Labs that score their own export (``LabSpec.score_export``) use it too.
    """
    results = []
    for name in cell.checks:
        result, _ = scorer.run_check(name)
        results.append(result)
        if result.details.get("grader_error") and FLAG_GRADER_ERROR not in flags:
            flags.append(FLAG_GRADER_ERROR)
    passed = all(r.passed for r in results)
    return CellScore(
        cell.grade_id, float(cell.points) if passed else 0.0, float(cell.points), results
    )


def scored_result(
    lab: LabSpec,
    scorer: CheckRunner,
    path: str | None,
    config: dict[str, Any],
    start: float,
    *,
    finish: Callable[[], None] | None = None,
) -> TrustedResult:
    """Score every autograded cell of `lab` on `scorer` (:func:`score_cell`), as a result.

    `config` is the settings dict the result records and `start` the
    ``time.perf_counter()`` the scoring began at (the result's ``seconds`` count from it).
    `finish`, when given, runs once the cells are scored, even if scoring raised, and
    before the scorer's measurements are read (lab04 stops its worker there). Labs that
    score their own export (``LabSpec.score_export``) use it too.
    """
    flags: list[str] = []
    try:
        cells = {cell.grade_id: score_cell(scorer, cell, flags) for cell in lab.autograded}
    finally:
        if finish is not None:
            finish()
    return TrustedResult(
        lab.lab_id,
        path,
        cells,
        flags=flags,
        measurements=scorer.measurements(),
        config=config,
        seconds=time.perf_counter() - start,
    )


def _oversized(lab: LabSpec, size: int) -> CheckResult:
    return CheckResult(
        "export",
        False,
        f"{lab.export_file} is {size:,} bytes",
        f"at most {lab.max_json_bytes:,} bytes (an architecture is a few KB)",
        "Export model.to_json() only (the notebook's last cell does), not weights or data.",
    )


def _is_json_object(text: str) -> bool:
    """Whether the text parses as a JSON object (a model that was exported, maybe refused)."""
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


def score_json(
    lab_id: str,
    json_text: str | None,
    config: GraderConfig | None = None,
    *,
    model_path: str | None = None,
    deterministic: bool = True,
) -> TrustedResult:
    """Score an architecture given as JSON text (None: nothing was exported).

    Never raises for anything the submission did: a missing, invalid or refused model
    scores 0 on every autograded cell with the reason in each cell's messages and a flag.

    Raises:
        UnknownLabError: ``lab_id`` is not a known lab.
        GraderConfigError, DataIntegrityError: the grader's own configuration or data is
            wrong (no score is computed rather than a wrong one).
    """
    start = time.perf_counter()
    lab = get_lab(lab_id)
    scorer = Scorer(lab, config or load_config(), deterministic=deterministic)
    settings = scorer.settings()
    scorer.data  # noqa: B018 - verify the grader data first: no score rather than a wrong one
    if json_text is None:
        result = CheckResult(
            "export",
            False,
            f"no {lab.export_file} was found",
            f"the architecture file {lab.export_file} written by the notebook's last cell",
            "Run the whole notebook (Kernel > Restart & Run All) so that its last cell "
            "exports your model, then submit again.",
        )
        out = zero_result(lab, model_path, result, FLAG_NO_MODEL, settings)
        out.seconds = time.perf_counter() - start
        return out
    size = len(json_text.encode("utf-8", errors="replace"))
    if size > lab.max_json_bytes:
        out = zero_result(lab, model_path, _oversized(lab, size), FLAG_NO_MODEL, settings)
        out.seconds = time.perf_counter() - start
        return out
    try:
        scorer.load(json_text)
    except ArchitectureError as err:
        flag = FLAG_REFUSED if _is_json_object(json_text) else FLAG_NO_MODEL
        out = zero_result(lab, model_path, err.result, flag, settings)
        out.seconds = time.perf_counter() - start
        return out
    return scored_result(lab, scorer, model_path, settings, start)


def score_submission(
    lab_id: str,
    architecture_json_path: str | os.PathLike[str],
    config: GraderConfig | None = None,
    *,
    deterministic: bool = True,
    sandbox: tuple[Any, Any, list[Path]] | None = None,
) -> TrustedResult:
    """Score the file a lab's notebook exported (``submission_model.json``).

    Args:
        lab_id: a lab id (``"lab01_functional_api"``).
        architecture_json_path: the exported file; a missing, empty, unreadable or
            oversized file scores 0 with the flag ``"no model exported"``.
        config: grader settings. Defaults to :func:`load_config` (``--config`` /
            ``$KERASCOURSE_GRADER_CONFIG`` / public defaults).
        deterministic: deterministic backend kernels. Defaults to `True`.
        sandbox: ``(SandboxInfo, SandboxPolicy, secrets)`` for a lab whose export is code
            (lab04's callback, run in a sandboxed worker), passed to its ``score_export``.
            Defaults to `None`: the lab's hook then uses
            :func:`~kerascourse.autograder.trusted.sandboxing.default_sandbox`.

    Returns:
        A :class:`TrustedResult`; ``result.scores()`` maps grade ids to points.

    Raises:
        GraderBugError: the lab exports code but declares no ``score_export`` hook.
    """
    lab = get_lab(lab_id)
    path = Path(architecture_json_path)
    if lab.score_export is not None:  # not an architecture: the lab scores it itself
        source = _read_export(path, lab.max_json_bytes)
        config = config or load_config()
        return lab.score_export(lab, source, config, path=str(path), sandbox=sandbox)
    if lab.exports_code:
        msg = (
            f"Lab {lab.lab_id} exports code (submission={lab.submission!r}) but its spec has "
            "no score_export: set LabSpec.score_export to the lab's scorer of that export."
        )
        raise GraderBugError(msg)
    text: str | None = None
    if path.is_file() and path.stat().st_size > 0:
        size = path.stat().st_size
        if size > lab.max_json_bytes:
            scorer = Scorer(lab, config or load_config())
            scorer.data  # noqa: B018 - as in score_json: bad grader data stops everything
            result = _oversized(lab, size)
            return zero_result(lab, str(path), result, FLAG_NO_MODEL, scorer.settings())
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = "\x00 unreadable"  # rebuild_model refuses it with "not valid JSON"
    return score_json(lab_id, text, config, model_path=str(path), deterministic=deterministic)


def _read_export(path: Path, limit: int) -> str | None:
    """The exported text; None when missing, empty, oversized or not UTF-8."""
    if not path.is_file() or not 0 < path.stat().st_size <= limit:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None

