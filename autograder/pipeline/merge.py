"""Put trusted scores into the main course: the gradebook and the autograded notebook.

Why a module, and why only in the parent process: the main gradebook is the instructor's
record, so exactly one writer touches it (the grading command's main process, one student
at a time), and what it writes comes from the trusted scorer, never from the sandbox's
throwaway gradebook. The executed notebook that comes out of the sandbox is student-made
data: before it reaches ``autograded/`` its grade ids are de-duplicated, locked cells are
restored from the *release* version (no hidden tests in it), missing grade cells are put
back, outputs are limited, and every autograded test cell's outputs are replaced by the
trusted scorer's messages. So ``nbgrader generate_feedback`` and the formgrader work as
usual and show what the grade was computed from.

Also here: :func:`tamper_flags`, which compares a submission with the release version
(locked cell edited, grade cell deleted or duplicated).
"""

from __future__ import annotations

import copy
import os
import tempfile
import warnings
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Message written as the output of a test cell that the grader scored.
SCORE_LINE = "Score from the grader (computed outside your kernel): {score:g} / {points:g}"


@dataclass
class CellScore:
    """The trusted outcome of one autograded grade cell."""

    score: float
    points: float
    messages: list[str] = field(default_factory=list)


def _nbgrader_meta(cell: Mapping[str, Any]) -> dict[str, Any]:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def graded_ids(nb: Any) -> list[str]:
    """``grade_id`` of every cell with nbgrader metadata, in order (duplicates kept)."""
    ids = []
    for cell in nb.cells:
        gid = _nbgrader_meta(cell).get("grade_id")
        if isinstance(gid, str):
            ids.append(gid)
    return ids


def tamper_flags(submitted: Any, release: Any) -> list[str]:
    """Signs that a submission changed what students must not change.

    Compares with the release notebook (the student version nbgrader generated):
    a locked cell whose checksum differs (nbgrader's own checksum), a grade or locked cell
    that is missing, a ``grade_id`` that appears twice. nbgrader restores locked cells
    before running them, so these do not change a score; they tell the instructor who
    tried.
    """
    from nbgrader.utils import compute_checksum

    flags = []
    seen = graded_ids(submitted)
    by_id: dict[str, Any] = {}
    for cell in submitted.cells:
        gid = _nbgrader_meta(cell).get("grade_id")
        if isinstance(gid, str):
            by_id[gid] = cell
    for cell in release.cells:
        meta = _nbgrader_meta(cell)
        gid = meta.get("grade_id")
        if not gid or not (meta.get("locked") or meta.get("grade")):
            continue
        count = seen.count(gid)
        kind = "grade cell" if meta.get("grade") else "locked cell"
        if count == 0:
            flags.append(f"{kind} deleted: {gid}")
            continue
        if count > 1:
            flags.append(f"cell duplicated: {gid} ({count} copies)")
        if meta.get("locked"):
            mine = copy.deepcopy(by_id[gid])
            mine.setdefault("metadata", {})["nbgrader"] = dict(meta, **_core(mine))
            if compute_checksum(mine) != meta.get("checksum"):
                flags.append(f"locked cell edited: {gid}")
    return flags


def dedupe_grade_ids(nb: Any, known: Collection[str]) -> Any:
    """A copy where each known grade id appears once (the last copy keeps it, as in
    nbgrader's DeduplicateIds) and no cell carries nbgrader metadata for an unknown id.

    Why not leave it to nbgrader: its DeduplicateIds empties the duplicate's metadata to
    ``{}``, which its own validator then rejects ("use an old version of the nbgrader
    metadata format"), so plain ``nbgrader autograde`` gives up on the whole notebook.
    Here the key is removed instead; the duplicate becomes an ordinary cell.
    """
    nb = copy.deepcopy(nb)
    seen: set[str] = set()
    for cell in reversed(nb.cells):
        if "nbgrader" not in cell.get("metadata", {}):
            continue
        gid = _nbgrader_meta(cell).get("grade_id")
        if gid in seen or gid not in known:
            cell.metadata.pop("nbgrader", None)
        else:
            seen.add(gid)
    return nb


def _core(cell: Mapping[str, Any]) -> dict[str, Any]:
    """The nbgrader metadata fields a student could have changed (part of the checksum)."""
    meta = _nbgrader_meta(cell)
    return {k: meta[k] for k in ("grade", "solution", "locked", "points") if k in meta}


def finalize_notebook(
    nb: Any,
    release: Any,
    scores: Mapping[str, CellScore],
    *,
    max_lines: int = 1000,
    max_traceback: int = 100,
    banner: str = "",
) -> Any:
    """The notebook that goes to ``autograded/``: sanitized, with trusted outputs.

    Args:
        nb: the executed notebook from the sandbox (or the submitted one if it crashed).
        release: the release notebook (locked cells and metadata are taken from it).
        scores: grade id -> trusted score of every autograded grade cell.
        max_lines: output lines kept per cell (nbgrader's LimitOutput). Defaults to `1000`.
        max_traceback: traceback lines kept per error. Defaults to `100`.
        banner: text shown at the top of the notebook (e.g. "the kernel timed out").
    """
    from nbformat import v4

    release_cells = {
        _nbgrader_meta(c)["grade_id"]: c
        for c in release.cells
        if isinstance(_nbgrader_meta(c).get("grade_id"), str)
    }
    nb = dedupe_grade_ids(nb, release_cells)
    # Restore ids that were deleted, after the release cell that precedes them.
    present = {_nbgrader_meta(c).get("grade_id"): c for c in nb.cells}
    order = list(release_cells)
    for pos, gid in enumerate(order):
        if gid in present:
            continue
        restored = copy.deepcopy(release_cells[gid])
        prev = next((present[g] for g in reversed(order[:pos]) if g in present), None)
        index = nb.cells.index(prev) + 1 if prev is not None else len(nb.cells)
        nb.cells.insert(index, restored)
        present[gid] = restored
    for gid, cell in present.items():
        if gid is None:
            continue
        ref = release_cells[gid]
        meta = _nbgrader_meta(ref)
        if cell.cell_type != ref.cell_type or meta.get("locked"):
            cell.cell_type = ref.cell_type
            cell.source = ref.source
        cell.metadata["nbgrader"] = copy.deepcopy(meta)
        if cell.cell_type == "code":
            cell.setdefault("outputs", [])
            cell.setdefault("execution_count", None)
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
        if gid in scores and cell.cell_type == "code":
            cell.outputs = [v4.new_output("stream", name="stdout", text=score_text(scores[gid]))]
    _limit_outputs(nb, max_lines, max_traceback)
    nb.metadata["kernelspec"] = copy.deepcopy(release.metadata.get("kernelspec", {}))
    if banner:
        nb.cells.insert(0, v4.new_markdown_cell(f"**Grading note:** {banner}"))
    return nb


def score_text(result: CellScore) -> str:
    """The output text of a scored test cell: the score, then one line per check."""
    lines = [SCORE_LINE.format(score=result.score, points=result.points)]
    lines += [str(m) for m in result.messages]
    return "\n".join(lines) + "\n"


def _limit_outputs(nb: Any, max_lines: int, max_traceback: int) -> None:
    from nbgrader.preprocessors import LimitOutput

    LimitOutput(max_lines=max_lines, max_traceback=max_traceback).preprocess(nb, {})


def merge_into_gradebook(
    db_url: str,
    *,
    lab_id: str,
    notebook_id: str,
    student_id: str,
    final_nb: Any,
    scores: Mapping[str, CellScore],
    timestamp: str | None = None,
) -> None:
    """Create or update the student's submission and set every grade, in one transaction.

    Autograded cells get the trusted score; manually graded cells follow nbgrader's rule
    (an unchanged answer scores 0 and reads "No response.", anything else waits for a
    person). A manual score an instructor already gave is kept, and the cell is marked
    for review, as ``nbgrader autograde`` does. Calling it twice updates, never duplicates.
    """
    from nbgrader.api import Gradebook
    from nbgrader.utils import compute_checksum, determine_grade, is_grade, is_solution, is_task

    with Gradebook(db_url) as gb, warnings.catch_warnings():
        # nbgrader's update_or_create_submission trips SQLAlchemy's autoflush warnings.
        warnings.filterwarnings("ignore", message=".*not in session.*")
        gb.update_or_create_student(student_id)
        kwargs: dict[str, Any] = {}
        if timestamp:
            from nbgrader.utils import parse_utc

            try:
                kwargs["timestamp"] = parse_utc(timestamp)
            except (ValueError, TypeError, OverflowError):
                kwargs = {}
        gb.update_or_create_submission(lab_id, student_id, **kwargs)
        for cell in final_nb.cells:
            meta = _nbgrader_meta(cell)
            gid = meta.get("grade_id")
            if not gid:
                continue
            if is_grade(cell):
                grade = gb.find_grade(gid, notebook_id, lab_id, student_id)
                if gid in scores:
                    grade.auto_score = float(scores[gid].score)
                else:
                    grade.auto_score = determine_grade(cell)[0]
                grade.needs_manual_grade = (
                    grade.manual_score is not None or grade.auto_score is None
                )
            if is_solution(cell) or is_task(cell):
                comment = gb.find_comment(gid, notebook_id, lab_id, student_id)
                unchanged = meta.get("checksum") == compute_checksum(cell)
                comment.auto_comment = "No response." if unchanged and not is_task(cell) else None
        gb.db.commit()


def count_submissions(db_url: str, lab_id: str) -> dict[str, int]:
    """Student id -> number of submissions of `lab_id` in the gradebook (tests, checks)."""
    from nbgrader.api import Gradebook, SubmittedAssignment

    with Gradebook(db_url) as gb:
        rows = (
            gb.db.query(SubmittedAssignment)
            .filter(SubmittedAssignment.assignment.has(name=lab_id))
            .all()
        )
        counts: dict[str, int] = {}
        for row in rows:
            counts[row.student.id] = counts.get(row.student.id, 0) + 1
    return counts


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temp file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
