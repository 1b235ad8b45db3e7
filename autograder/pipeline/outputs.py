"""Steps ``feedback``, ``export`` and ``class report``, after every submission is merged.

Why a module of its own: these run once per class run, in the parent, over the records
of every student of the run (skipped ones too): feedback HTML for those graded now and
for anyone whose page is missing or older than their autograded notebook (a run killed
after the merge, before the feedback), then ``nbgrader export`` to CSV and the class
report next to it. The work itself is in :mod:`kerascourse.autograder.pipeline.feedback`
and :mod:`kerascourse.autograder.pipeline.classreport`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kerascourse.autograder.pipeline.options import GradeOptions, GradingReport


def write_outputs(
    report: GradingReport,
    options: GradeOptions,
    course: Path,
    lab_id: str,
    emit: Callable[[str, dict[str, Any]], None],
    phase: Callable[[str], None],
) -> None:
    """Feedback for the students graded now (and stale pages), then the CSV and the report.

    Fills in ``report.feedback``, ``report.csv_path`` and ``report.report_path``; `emit`
    announces each phase to the progress bar, `phase` times it.
    """
    if options.feedback:
        write_feedback(report, course, lab_id, emit)
        phase("feedback")
    if options.export:
        from kerascourse.autograder.pipeline.classreport import write_class_report
        from kerascourse.autograder.pipeline.feedback import export_grades

        emit("phase", {"name": "export"})
        report.csv_path = export_grades(course)
        report.report_path = write_class_report(course, lab_id, report)
        phase("export")


def write_feedback(
    report: GradingReport,
    course: Path,
    lab_id: str,
    emit: Callable[[str, dict[str, Any]], None],
) -> None:
    """Feedback HTML for everyone graded now and anyone whose page is missing or stale."""
    from kerascourse.autograder.pipeline.feedback import feedback_path, generate_feedback

    # Everyone graded now, and anyone whose feedback is missing or older than their
    # autograded notebook (a run killed after the merge, before the feedback).
    stale = []
    for rec in report.records:
        if not rec.get("merged"):
            continue
        page = feedback_path(course, lab_id, rec["student_id"])
        nb = course / rec.get("autograded_notebook", "")
        fresh = page.exists() and nb.is_file() and page.stat().st_mtime >= nb.stat().st_mtime
        if rec["student_id"] in report.graded_now or not fresh:
            stale.append(rec["student_id"])
        else:
            report.feedback[rec["student_id"]] = page
    if stale:
        emit("phase", {"name": "feedback"})
        report.feedback.update(generate_feedback(course, lab_id, stale))
