"""Step ``merge``, in the parent: one graded submission written into the course, then its
record into the results store.

Why the parent alone: nbgrader's gradebook is one SQLite file, so one process writes it,
one result at a time as results arrive from the workers. The order is what makes a
killed run safe: gradebook, ``autograded/`` notebook, ``submitted/`` copy, and only then
the record (:mod:`kerascourse.autograder.pipeline.store`); a run killed before the record
grades that student again, never twice.
"""

from __future__ import annotations

import concurrent.futures as cf
import time
from pathlib import Path
from typing import Any

from kerascourse.autograder.pipeline.collect import Submission
from kerascourse.autograder.pipeline.courseinfo import CourseInfo
from kerascourse.autograder.pipeline.store import ResultsStore


def collect_result(future: cf.Future, sub: Submission) -> dict[str, Any]:
    """A worker's record, or a ``failed`` record naming our bug when the worker raised."""
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - our bug must not stop the class
        return {
            "student_id": sub.student_id,
            "sha256": sub.sha256,
            "origin": sub.origin,
            "status": "failed",
            "reason": f"grader error (our bug, not the student's): {type(exc).__name__}: {exc}",
            "flags": ["grader error"],
            "grader_error": True,
        }


def commit(
    course: Path,
    info: CourseInfo,
    lab_id: str,
    notebook_id: str,
    sub: Submission,
    record: dict[str, Any],
    store: ResultsStore,
) -> dict[str, Any]:
    """Single writer: gradebook, ``autograded/`` notebook, then the results record."""
    import nbformat
    from kerascourse.autograder.pipeline.merge import CellScore, merge_into_gradebook, write_atomic

    if record.get("grader_error"):
        record["merged"] = False  # graded again on the next run
        store.put(record)
        return record
    final_path = Path(record.pop("final_notebook"))
    final = nbformat.read(final_path, as_version=4)
    scores = {g: CellScore(**s) for g, s in record["scores"].items()}
    merge_into_gradebook(
        info.db_url,
        lab_id=lab_id,
        notebook_id=notebook_id,
        student_id=sub.student_id,
        final_nb=final,
        scores=scores,
        timestamp=sub.timestamp,
    )
    dest = course / "autograded" / sub.student_id / lab_id / f"{notebook_id}.ipynb"
    write_atomic(dest, nbformat.writes(final).encode("utf-8"))
    submitted = course / "submitted" / sub.student_id / lab_id / f"{notebook_id}.ipynb"
    if submitted.resolve() != sub.path.resolve():
        write_atomic(submitted, sub.path.read_bytes())
        if sub.timestamp:
            write_atomic(submitted.parent / "timestamp.txt", sub.timestamp.encode())
    record["autograded_notebook"] = str(dest.relative_to(course))
    record["merged"] = True
    record["graded_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    store.put(record)
    return record
