"""Feedback HTML for students and the grades CSV, with nbgrader's own tools.

Why a module: nbgrader 0.9.6's ``generate_feedback`` renders the autograded notebook as it
is, and its preprocessors (``GetGrades``, ``CSSHTMLHeaderPreprocessor``) do *not* remove
``### BEGIN HIDDEN TESTS`` regions. This kit never puts them there (the autograded
notebook is built from the release version, see :mod:`kerascourse.autograder.pipeline.merge`), adds
nbgrader's ``ClearHiddenTests`` to the feedback preprocessors as a second guard, and then
checks every HTML file it wrote against the hidden lines of the lab source: a file that
contains one is deleted and the run stops with :class:`FeedbackLeakError`.

Run as a module it generates feedback in a fresh process (nbgrader's apps keep global
state): ``python -m kerascourse.autograder.pipeline.feedback --course DIR --lab ID --student S ...``.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from kerascourse.autograder.core.results import GraderBugError

BEGIN, END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"


class FeedbackLeakError(GraderBugError):
    """A feedback file would have shown hidden test source (deleted; our bug)."""


def feedback_path(course_dir: str | Path, lab_id: str, student_id: str) -> Path:
    """Where nbgrader writes a student's feedback HTML."""
    from kerascourse.autograder.core.registry import get_lab

    name = Path(get_lab(lab_id).notebook).stem
    return Path(course_dir) / "feedback" / student_id / lab_id / f"{name}.html"


def hidden_lines(source_notebook: str | Path) -> list[str]:
    """Lines that appear only inside hidden test regions of a lab's source notebook."""
    import nbformat

    nb = nbformat.read(source_notebook, as_version=4)
    hidden: set[str] = set()
    visible: set[str] = set()
    for cell in nb.cells:
        inside = False
        for line in cell.source.splitlines():
            text = line.strip()
            if BEGIN in text:
                inside = True
            elif END in text:
                inside = False
            elif text:
                (hidden if inside else visible).add(text)
    return sorted(line for line in hidden - visible if len(line) >= 6)


def leaked_lines(html_text: str, hidden: Sequence[str]) -> list[str]:
    """Hidden lines found in an HTML page (tags removed, entities decoded, spaces folded)."""
    text = html.unescape(re.sub(r"<[^>]+>", "", html_text))
    text = re.sub(r"[ \t]+", " ", text)
    found = [line for line in hidden if re.sub(r"[ \t]+", " ", line) in text]
    if BEGIN in text:
        found.append(BEGIN)
    return found


def _source_notebook(course_dir: Path, lab_id: str) -> Path:
    from kerascourse.autograder.core.registry import get_lab
    from kerascourse.autograder.pipeline.courseinfo import read_course

    info = read_course(course_dir)
    return info.source_dir / lab_id / get_lab(lab_id).notebook


def generate_feedback(
    course_dir: str | Path, lab_id: str, students: Sequence[str], *, timeout: float = 1800
) -> dict[str, Path]:
    """Run nbgrader's generate_feedback for `students`; return student -> HTML path.

    Raises:
        FeedbackLeakError: an HTML file held hidden test source (it was deleted).
        GraderBugError: nbgrader failed; the message carries its log.
    """
    course = Path(course_dir).resolve()
    if not students:
        return {}
    cmd = [
        sys.executable,
        "-m",
        "kerascourse.autograder.pipeline.feedback",
        "--course",
        str(course),
    ]
    cmd += ["--lab", lab_id]
    for sid in students:
        cmd += ["--student", sid]
    from kerascourse.autograder.pipeline.course import run_in_course

    proc = run_in_course(cmd, course, timeout=timeout)
    if proc.returncode != 0:
        msg = (
            f"nbgrader generate_feedback failed for {lab_id} (exit {proc.returncode}):\n"
            f"{(proc.stdout + proc.stderr)[-3000:]}"
        )
        raise GraderBugError(msg)
    return check_feedback(course, lab_id, students)


def check_feedback(course: Path, lab_id: str, students: Sequence[str]) -> dict[str, Path]:
    """Verify each student's feedback HTML holds no hidden test line; return their paths."""
    hidden = hidden_lines(_source_notebook(course, lab_id))
    paths: dict[str, Path] = {}
    leaks: dict[str, list[str]] = {}
    for sid in students:
        path = feedback_path(course, lab_id, sid)
        if not path.exists():
            continue
        found = leaked_lines(path.read_text(encoding="utf-8", errors="replace"), hidden)
        if found:
            path.unlink()
            leaks[sid] = found
        else:
            paths[sid] = path
    if leaks:
        msg = (
            f"Feedback for {sorted(leaks)} contained hidden test source and was deleted: "
            f"{json.dumps(leaks)[:500]}. This is a grader bug; please report it."
        )
        raise FeedbackLeakError(msg)
    return paths


def export_grades(course_dir: str | Path, *, timeout: float = 600) -> Path:
    """Run ``nbgrader export`` in the course; the CSV goes to ``exports/grades.csv``."""
    from kerascourse.autograder.pipeline.course import nbgrader_command, run_in_course

    course = Path(course_dir).resolve()
    out = course / "exports" / "grades.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = run_in_course(nbgrader_command("export", f"--to={out}"), course, timeout=timeout)
    if proc.returncode != 0 or not out.exists():
        msg = f"nbgrader export failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
        raise GraderBugError(msg)
    return out


def _main(argv: Sequence[str] | None = None) -> int:
    """Generate feedback with nbgrader's API in this (fresh) process."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    parser = argparse.ArgumentParser(prog="python -m kerascourse.autograder.pipeline.feedback")
    parser.add_argument("--course", required=True)
    parser.add_argument("--lab", required=True)
    parser.add_argument("--student", action="append", default=[])
    args = parser.parse_args(argv)
    course = Path(args.course).resolve()
    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    cfg.GenerateFeedback.preprocessors = [
        "nbgrader.preprocessors.GetGrades",
        "nbgrader.preprocessors.ClearHiddenTests",
        "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    ]
    cfg.ClearHiddenTests.enforce_metadata = False
    coursedir = CourseDirectory(config=cfg)
    api = NbGraderAPI(coursedir=coursedir, config=cfg)
    failed = []
    for sid in args.student:
        result = api.generate_feedback(args.lab, student_id=sid, force=True)
        if not result.get("success"):
            failed.append(sid)
            print(f"feedback for {sid} failed:\n{result.get('log', '')[-2000:]}", file=sys.stderr)  # noqa: T201
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(_main())
