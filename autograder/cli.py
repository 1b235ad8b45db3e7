"""The ``kerascourse grade`` and ``kerascourse check`` sub-commands.

Why here and not in ``kerascourse.cli``: the console script only registers these parsers
(:func:`register`); parsing stays next to the pipeline it drives. Nothing heavy is
imported until a handler runs.

Examples::

    kerascourse grade lab01_functional_api submitted/ --course ~/course --jobs 2
    kerascourse grade lab01_functional_api canvas_download.zip --config /srv/grading/k.toml
    kerascourse check labs/lab01_functional_api/lab01_functional_api.ipynb
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any

GRADE_EXAMPLES = """examples:
  kerascourse grade lab01_functional_api ~/course/submitted
  kerascourse grade lab01_functional_api downloads.zip --course ~/course --jobs 2
  kerascourse grade lab01_functional_api submissions/ --config /srv/grading/kerascourse.toml

SUBMISSIONS may be nbgrader's submitted/<student>/<lab>/ folder, a folder of notebooks named
after students (Canvas and Moodle names are understood) or one folder per student, or a
.zip of either. Re-running grades only new or changed notebooks."""

CHECK_EXAMPLES = """examples:
  kerascourse check lab01_functional_api.ipynb
  kerascourse check my_work.ipynb --lab lab01_functional_api

Runs the instructor's grading on your notebook (student id "me") with the public grader
settings and prints your score and the path of your feedback page."""


def register(sub: Any) -> None:
    """Add ``grade`` and ``check`` to the ``kerascourse`` sub-command parsers."""
    grade = sub.add_parser(
        "grade",
        help="grade a class's lab submissions (sandboxed, parallel, trusted scores)",
        epilog=GRADE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    grade.add_argument("lab_id", metavar="LAB_ID", help="the lab, e.g. lab01_functional_api")
    grade.add_argument("submissions", metavar="SUBMISSIONS", help="folder or .zip (see below)")
    grade.add_argument(
        "--course",
        default=None,
        help="nbgrader course folder (default: the parent of a submitted/ folder, else ./course)",
    )
    _common(grade)
    grade.add_argument(
        "--jobs", type=int, default=None, help="parallel submissions (default: cores)"
    )
    grade.add_argument("--no-feedback", action="store_true", help="skip feedback HTML")
    grade.add_argument("--no-export", action="store_true", help="skip the CSV and class report")
    grade.add_argument(
        "--no-score-cache",
        action="store_true",
        help="score every model in the trusted process, even identical architectures",
    )
    grade.add_argument("--keep-work", action="store_true", help="keep staging folders (debug)")
    grade.add_argument(
        "--dask",
        default=None,
        metavar="ADDRESS",
        help="grade on a Dask cluster's workers (scheduler address, e.g. tcp://host:8786)",
    )
    grade.set_defaults(func=_grade)

    check = sub.add_parser(
        "check",
        help="grade your own lab notebook locally, like the instructor will",
        epilog=CHECK_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("notebook", metavar="NOTEBOOK", help="your lab notebook (.ipynb)")
    check.add_argument("--lab", default=None, help="lab id (default: from the file name)")
    check.add_argument(
        "--course", default=None, help="where to keep the check course (default: user cache)"
    )
    _common(check)
    check.set_defaults(func=_check)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        default=None,
        help="private grader config TOML (default: $KERASCOURSE_GRADER_CONFIG, else public)",
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds per submission (default 900)"
    )
    parser.add_argument(
        "--sandbox",
        choices=("auto", "bwrap", "off"),
        default="auto",
        help="bubblewrap sandbox: auto (when it works), bwrap (required), off",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def default_course(submissions: Path) -> Path:
    """The course folder when --course is not given."""
    sub = submissions.expanduser().resolve()
    if sub.name == "submitted" and (sub.parent / "nbgrader_config.py").exists():
        return sub.parent
    if (sub / "nbgrader_config.py").exists():
        return sub
    return Path.cwd() / "course"


def _options(args: argparse.Namespace, **extra: Any) -> Any:
    from kerascourse.autograder.pipeline import GradeOptions

    return GradeOptions(
        config_path=args.config,
        timeout=args.timeout,
        sandbox=args.sandbox,
        progress=not args.no_progress,
        **extra,
    )


def _run(lab_id: str, submissions: Path, course: Path, options: Any) -> Any:
    """Run the pipeline with a progress bar; print errors we can name, return the report."""
    from kerascourse.autograder.pipeline import grade_lab

    with ProgressPrinter(enabled=options.progress) as progress:
        return grade_lab(lab_id, submissions, course, options, on_event=progress.event)


def _known_errors() -> tuple[type[BaseException], ...]:
    from kerascourse.autograder.core.config import GraderConfigError
    from kerascourse.autograder.core.spec import UnknownLabError
    from kerascourse.autograder.pipeline.course import CourseSetupError

    return (
        UnknownLabError,
        GraderConfigError,
        CourseSetupError,
        FileNotFoundError,
        ValueError,
        RuntimeError,
    )


def _grade(args: argparse.Namespace) -> int:
    submissions = Path(args.submissions)
    course = Path(args.course).expanduser() if args.course else default_course(submissions)
    options = _options(
        args,
        jobs=args.jobs,
        feedback=not args.no_feedback,
        export=not args.no_export,
        trusted_cache=not args.no_score_cache,
        keep_work=args.keep_work,
        dask_scheduler=args.dask,
    )
    try:
        report = _run(args.lab_id, submissions, course, options)
    except _known_errors() as exc:
        sys.stderr.write(f"kerascourse grade: {exc}\n")
        return 2
    print_summary(report)
    return 1 if any(r.get("grader_error") for r in report.records) else 0


def check_course_dir(lab_id: str) -> Path:
    """Where ``kerascourse check`` keeps its one-student course (reused between checks)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "kerascourse" / "check" / lab_id


def infer_lab(notebook: Path) -> str:
    """The lab id a notebook belongs to, from its file name; lists the labs otherwise."""
    from kerascourse.autograder.core.registry import get_lab, lab_ids

    stem = notebook.stem.lower()
    for lab_id in lab_ids():
        if stem == lab_id or lab_id in stem or stem == Path(get_lab(lab_id).notebook).stem:
            return lab_id
    msg = (
        f"Cannot tell which lab {notebook.name} is from its name. Pass --lab with one of "
        f"{lab_ids()}, e.g. kerascourse check {notebook} --lab {lab_ids()[0]}."
    )
    raise ValueError(msg)


def _check(args: argparse.Namespace) -> int:
    notebook = Path(args.notebook).expanduser().resolve()
    try:
        if not notebook.is_file():
            msg = f"Notebook not found: {notebook}. Pass the path of your lab notebook (.ipynb)."
            raise FileNotFoundError(msg)
        lab_id = args.lab or infer_lab(notebook)
        from kerascourse.autograder.core.registry import get_lab

        lab = get_lab(lab_id)
        course = Path(args.course).expanduser() if args.course else check_course_dir(lab.lab_id)
        inbox = course / ".kerascourse" / "check_in"
        shutil.rmtree(inbox, ignore_errors=True)
        (inbox / "me").mkdir(parents=True)
        shutil.copyfile(notebook, inbox / "me" / lab.notebook)
        report = _run(lab.lab_id, inbox, course, _options(args, jobs=1, export=False))
    except _known_errors() as exc:
        sys.stderr.write(f"kerascourse check: {exc}\n")
        return 2
    print_check(report, "me")
    return 0


# ----------------------------------------------------------------------------- display


class ProgressPrinter:
    """A rich progress bar fed by the pipeline's events (plain lines when not a terminal)."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> ProgressPrinter:  # noqa: PYI034 - py3.10 has no typing.Self
        from rich.console import Console

        self.console = Console(stderr=True)
        if self.enabled and self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
            )
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def event(self, kind: str, data: dict[str, Any]) -> None:
        """Handle one pipeline event (``start``, ``done``, ``phase``)."""
        if not self.enabled:
            return
        if kind == "start":
            self.console.print(f"sandbox: {data['sandbox']}")
            self.console.print(f"to grade: {data['total']}, already graded: {data['skipped']}")
            if self._progress is not None:
                self._task = self._progress.add_task("grading", total=data["total"])
        elif kind == "done":
            line = (
                f"{data['student_id']}: {data.get('status')} "
                f"{float(data.get('score', 0)):g}/{float(data.get('max_score', 0)):g}"
            )
            if data.get("flags"):
                line += f" (flagged: {'; '.join(data['flags'])})"
            self.console.print(line, markup=False, highlight=False)
            if self._progress is not None:
                self._progress.advance(self._task)
        elif kind == "phase" and self._progress is not None:
            self._progress.update(self._task, description=data["name"])


def print_summary(report: Any) -> None:
    """The end-of-run table: one row per student, then the totals and where things are."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"{report.lab_id}: {len(report.records)} students")
    for col in ("student", "status", "score", "flags / reason"):
        table.add_column(col)
    for rec in report.records:
        reason = rec.get("reason") or ""
        why = "; ".join(f for f in rec.get("flags", []) if f not in reason)
        if reason:
            why = f"{rec['reason']}; {why}" if why else rec["reason"]
        score = f"{float(rec.get('score', 0)):g}/{float(rec.get('max_score', 0)):g}"
        table.add_row(rec["student_id"], rec.get("status", "?"), score, why)
    console.print(table)
    counts = report.counts()
    console.print(
        f"graded {counts['graded']}, failed {counts['failed']}, crashed {counts['crashed']}, "
        f"flagged {counts['flagged']} | new this run {counts['new']}, "
        f"already graded {counts['skipped']} | {report.seconds:g} s",
        markup=False,
    )
    style = "bold red" if not report.sandboxed else ""
    console.print(f"sandbox: {report.sandbox}", style=style, markup=False)
    for note in report.notes:
        console.print(f"note: {note}", markup=False, highlight=False)
    if report.csv_path:
        console.print(f"grades CSV: {report.csv_path}", markup=False)
    if report.report_path:
        console.print(f"class report: {report.report_path}", markup=False)
    if report.feedback:
        folder = report.course_dir / "feedback"
        console.print(f"feedback: {len(report.feedback)} HTML files in {folder}", markup=False)


def print_check(report: Any, student_id: str) -> None:
    """A learner's score table, cell by cell, and the path of the feedback page."""
    from kerascourse.autograder.core.registry import get_lab
    from rich.console import Console
    from rich.table import Table

    console = Console()
    rec = report.record(student_id)
    lab = get_lab(report.lab_id)
    table = Table(title=f"{report.lab_id}: your score")
    for col in ("test", "points", "what the grader found"):
        table.add_column(col)
    for cell in lab.grade_cells:
        if cell.manual:
            table.add_row(cell.grade_id, f"-/{cell.points:g}", "graded by your instructor")
            continue
        scored = rec.get("scores", {}).get(cell.grade_id, {})
        lines = "\n".join(scored.get("messages", []))
        table.add_row(cell.grade_id, f"{scored.get('score', 0):g}/{cell.points:g}", lines)
    console.print(table)
    console.print(
        f"autograded total: {float(rec.get('score', 0)):g}/{float(rec.get('max_score', 0)):g}"
        f" ({rec.get('status')}{': ' + rec['reason'] if rec.get('reason') else ''})",
        markup=False,
    )
    for flag in rec.get("flags", []):
        if flag != "sandbox unavailable":
            console.print(f"note: {flag}", markup=False)
    page = report.feedback.get(student_id)
    if page:
        console.print(f"feedback page: {page}", markup=False)
