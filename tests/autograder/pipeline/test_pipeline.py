"""`kerascourse grade` end to end on lab01: generate, grade (killed mid-batch, then run
again), feedback, export, re-runs.

Simulated students are built from the release notebook with small cell factories
(tests/support/notebooks.py, also used by test_adversarial.py). The grader config used
here is a private TOML file outside the repository with few epochs (fast) and a low
quality threshold (wide margins), so every expected score below is exact.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from kerascourse.autograder.pipeline import GradeOptions, grade_lab, read_course
from kerascourse.autograder.pipeline import course as course_mod
from kerascourse.autograder.pipeline.feedback import feedback_path, hidden_lines, leaked_lines
from kerascourse.autograder.pipeline.merge import count_submissions
from kerascourse.autograder.pipeline.store import ResultsStore
from support.notebooks import (  # noqa: F401 - re-used names of the shared factories
    ANSWER,
    CELLS,
    LAB,
    POINTS,
    ROOT,
    SOURCE,
    build_model_source,
    cell_scores,
    find,
    lab_solution_source,
    new_course,
    private_config,
    run_cli,
    student,
    write,
)

from kerascourse import release as release_mod

# ----------------------------------------------------------------------- end to end

EXPECTED = {
    # student: (status, score, per-cell scores)
    "alice": ("crashed", 0.0, dict.fromkeys(CELLS, 0.0)),  # os._exit(0): her record is first
    "full": ("graded", 9.0, dict(POINTS)),
    "blank": ("failed", 0.0, dict.fromkeys(CELLS, 0.0)),
    "partial": ("graded", 8.0, {**POINTS, "q1_io_names_shapes": 0.0}),  # output misnamed
    "over_budget": ("graded", 7.0, {**POINTS, "q2_budget": 0.0}),  # 108,618 parameters
}


def grade_class(base: Path) -> dict:
    """The class from an LMS zip: killed mid-batch, finished by the CLI, then re-run.

    The first ``kerascourse grade`` is SIGKILLed (grader and workers, like a power cut)
    as soon as one record is committed; the same command then finishes the class; last,
    :func:`grade_lab` over the course's ``submitted/`` copies must grade nobody (its
    report is what the cases read).
    """
    course, _, release = new_course(base)
    config = private_config(base)
    alice = student(release, build=build_model_source())  # her kernel dies at once
    alice.cells.insert(0, nbformat.v4.new_code_cell("import os\nos._exit(0)"))
    notebooks = {
        "alice": alice,
        "full": student(release, build=lab_solution_source()),
        "blank": student(release, build=None, answer=None),
        "partial": student(release, build=build_model_source(out_name="probs")),
        "over_budget": student(release, build=build_model_source(hidden=128)),
    }
    archive = base / "lms_download.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for sid, nb in notebooks.items():
            zf.writestr(f"export/{sid}_{LAB}.ipynb", nbformat.writes(nb))
    args = ["grade", LAB, str(archive), "--course", str(course), "--jobs", "2"]
    args += ["--config", str(config), "--no-progress"]
    store = ResultsStore(course, LAB)
    first = _kill_after_the_first_record(args, store)
    finished = run_cli(*args)
    before = {r["student_id"]: r["graded_at"] for r in store.records()}
    options = GradeOptions(jobs=2, config_path=str(config), timeout=600, progress=False)
    report = grade_lab(LAB, course / "submitted", course, options)
    return {
        "course": course, "config": config, "report": report, "options": options,
        "first": first, "finished": finished.stdout, "before": before,
    }  # fmt: skip


def _kill_after_the_first_record(args: list[str], store: ResultsStore) -> dict[str, str]:
    """Start `kerascourse ARGS`, SIGKILL its process group once a record is committed;
    return student -> graded_at of what was committed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "kerascourse", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and not list(store.records()):
        assert proc.poll() is None, "the grader ended before it could be killed"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the grader and its workers, like a power cut
    proc.wait()
    return {r["student_id"]: r["graded_at"] for r in store.records()}


def case_a_killed_run_is_finished_each_student_graded_once(e2e):
    """After SIGKILL mid-batch, does a re-run finish the rest, each student graded once?"""
    first, course = e2e["first"], e2e["course"]
    assert 1 <= len(first) < len(EXPECTED), first
    records = {r["student_id"]: r for r in ResultsStore(course, LAB).records()}
    assert sorted(records) == sorted(EXPECTED)
    assert all(r["merged"] for r in records.values())
    for sid, graded_at in first.items():
        assert records[sid]["graded_at"] == graded_at, f"{sid} was graded twice"
    summary = " ".join(e2e["finished"].split())  # the CLI's table and totals, unwrapped
    assert f"new this run {len(EXPECTED) - len(first)}, already graded {len(first)}" in summary
    assert "graded 3, failed 1, crashed 1" in summary
    assert [p.name for p in (course / ".kerascourse" / "work").iterdir()] == []


def case_each_student_gets_the_exact_score(e2e):
    """Does every simulated student get exactly the score their model earns?"""
    report = e2e["report"]
    for sid, (status, total, cells) in EXPECTED.items():
        rec = report.record(sid)
        assert rec["status"] == status, (sid, rec.get("reason"))
        assert rec["score"] == total, (sid, rec["scores"])
        assert cell_scores(rec) == cells, sid
        assert rec["max_score"] == 9.0
    assert report.record("blank")["flags"] == ["no model exported"]
    assert report.record("full")["flags"] == []
    assert report.sandboxed == (report.sandbox.startswith("bubblewrap"))


def case_gradebook_holds_the_trusted_scores(e2e):
    """Does the main gradebook hold one submission each, trusted scores, manual cell open?"""
    from nbgrader.api import Gradebook

    db_url = read_course(e2e["course"]).db_url
    assert count_submissions(db_url, LAB) == dict.fromkeys(EXPECTED, 1)
    with Gradebook(db_url) as gb:
        for sid, (_, total, cells) in EXPECTED.items():
            for gid, score in cells.items():
                grade = gb.find_grade(gid, LAB, LAB, sid)
                assert grade.auto_score == score, (sid, gid)
                assert not grade.needs_manual_grade
            written = gb.find_grade("q4_written", LAB, LAB, sid)
            if sid == "blank":  # unchanged answer: 0 and "No response.", like nbgrader
                assert written.auto_score == 0
                assert gb.find_comment("q4_written", LAB, LAB, sid).auto_comment == "No response."
            else:
                assert written.auto_score is None
                assert written.needs_manual_grade
            assert gb.find_submission(LAB, sid).code_score == total


def case_feedback_has_no_hidden_tests(e2e):
    """Is every feedback page written, with the trusted messages and no hidden test line?"""
    course = e2e["course"]
    hidden = hidden_lines(SOURCE)
    assert hidden, "the lab source has hidden tests to look for"
    for sid in EXPECTED:
        page = feedback_path(course, LAB, sid)
        text = page.read_text()
        assert leaked_lines(text, hidden) == [], sid
        assert "BEGIN HIDDEN TESTS" not in text
        assert "Score from the grader" in text
    full = feedback_path(course, LAB, "full").read_text()
    assert "9 / 11" in full or "9.0 / 11.0" in full  # nbgrader's header: auto 9, manual 2 open
    over = feedback_path(course, LAB, "over_budget").read_text()
    assert "108,618 parameters" in over


def case_autograded_notebook_is_clean(e2e):
    """Does autograded/ hold the release's test cells with the grader's report as output?"""
    course = e2e["course"]
    nb = nbformat.read(course / "autograded" / "partial" / LAB / f"{LAB}.ipynb", as_version=4)
    release = nbformat.read(course / "release" / LAB / f"{LAB}.ipynb", as_version=4)
    for gid in CELLS:
        assert find(nb, gid).source == find(release, gid).source
        text = "".join(o.get("text", "") for o in find(nb, gid).outputs)
        assert text.startswith("Score from the grader"), gid
    assert "'probs', not 'digit'" in "".join(
        o.get("text", "") for o in find(nb, "q1_io_names_shapes").outputs
    )


def case_export_csv_and_class_report(e2e):
    """Are the grades CSV and the class report written with every student and flag?"""
    report = e2e["report"]
    rows = {r["student_id"]: r for r in csv.DictReader(report.csv_path.open())}
    assert set(rows) == set(EXPECTED)
    for sid, (_, total, _) in EXPECTED.items():
        assert float(rows[sid]["raw_score"]) == total
        assert float(rows[sid]["max_score"]) == 11.0
    page = report.report_path.read_text()
    assert report.report_path.parent == report.csv_path.parent
    assert "data:image/png;base64," in page
    assert "q2_budget" in page
    assert "108,618" in page
    assert "no model exported" in page


def case_rerun_grades_nothing_twice(e2e):
    """Does a run over the same submissions (as submitted/ copies) grade nobody, change
    nothing?"""
    report, course = e2e["report"], e2e["course"]
    assert report.graded_now == []
    assert report.skipped == sorted(EXPECTED)
    store = ResultsStore(course, LAB)
    assert {r["student_id"]: r["graded_at"] for r in store.records()} == e2e["before"]
    assert count_submissions(read_course(course).db_url, LAB) == dict.fromkeys(EXPECTED, 1)


def case_merging_again_updates_instead_of_duplicating(e2e):
    """Does merging a student twice (a re-grade) update the one submission in place?"""
    import shutil

    from kerascourse.autograder.pipeline.merge import CellScore, merge_into_gradebook

    db = e2e["course"].parent / "gradebook-copy.db"
    shutil.copyfile(e2e["course"] / "gradebook.db", db)
    nb = nbformat.read(e2e["course"] / "autograded" / "full" / LAB / f"{LAB}.ipynb", as_version=4)
    scores = {gid: CellScore(0.0, POINTS[gid]) for gid in CELLS}
    for _ in range(2):
        merge_into_gradebook(
            f"sqlite:///{db}", lab_id=LAB, notebook_id=LAB, student_id="full",
            final_nb=nb, scores=scores,
        )  # fmt: skip
    assert count_submissions(f"sqlite:///{db}", LAB)["full"] == 1
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}") as gb:
        assert gb.find_submission(LAB, "full").code_score == 0


def case_results_are_json_records(e2e):
    """Is each student's record plain JSON with the sha256 it was graded from?"""
    store = ResultsStore(e2e["course"], LAB)
    rec = json.loads(store.path("full").read_text())
    assert len(rec["sha256"]) == 64
    assert rec["merged"] is True
    assert set(rec["steps"]) == {"stage", "autograde", "copy_out", "score", "finalize"}


E2E_CASES = [
    case_a_killed_run_is_finished_each_student_graded_once,
    case_each_student_gets_the_exact_score,
    case_gradebook_holds_the_trusted_scores,
    case_feedback_has_no_hidden_tests,
    case_autograded_notebook_is_clean,
    case_export_csv_and_class_report,
    case_results_are_json_records,
    case_merging_again_updates_instead_of_duplicating,
    case_rerun_grades_nothing_twice,
]


@pytest.mark.slow
def test_grade_a_class_end_to_end(tmp_path):
    """Generate lab01, grade five simulated students (the run killed mid-batch, then run
    again), give feedback, export: all exact, each student graded once?

    One test on purpose: the run costs one TensorFlow kernel per student, so it must run
    once, and a module-scoped fixture would run once per xdist worker. Every case is
    checked and every failing one is reported.
    """
    e2e = grade_class(tmp_path)
    failures = []
    fresh = course_mod.release_path(e2e["course"], LAB)  # what the Colab badge opens, fresh
    if release_mod.comparable(ROOT / "release" / LAB / fresh.name) != release_mod.comparable(fresh):
        failures.append(release_mod.stale_message(LAB))
    for case in E2E_CASES:
        try:
            case(e2e)
        except AssertionError as exc:
            failures.append(f"{case.__name__}: {case.__doc__.splitlines()[0]}\n  {exc}")
    assert not failures, "\n".join(failures)


# ----------------------------------------------------------------------- learner + CLI


@pytest.mark.slow
def test_check_command_for_a_learner(tmp_path):
    """Does `kerascourse check` grade a learner's notebook and print scores and feedback?"""
    check_course, _, release = new_course(tmp_path / "cache")  # the student version
    mine = write(student(release, build=build_model_source()), tmp_path / f"{LAB}.ipynb")
    config = private_config(tmp_path)
    proc = run_cli(
        "check", str(mine), "--course", str(check_course), "--config", str(config),
        "--sandbox", "off", "--no-progress",
    )  # fmt: skip
    out = proc.stdout
    assert "your score" in out
    assert "autograded total: 9/9" in out
    assert "graded by your instructor" in out
    page = feedback_path(check_course, LAB, "me")
    assert page.exists()
    assert str(page) in out.replace("\n", "")
    record = ResultsStore(check_course, LAB).get("me")
    assert "sandbox unavailable" in record["flags"]  # --sandbox off is said, not hidden


@pytest.mark.slow
def test_unknown_lab_lists_the_valid_ones(tmp_path):
    """Does a typo in the lab id list the labs that exist?"""
    proc = run_cli("grade", "lab1", str(tmp_path), "--course", str(tmp_path / "c"), retcode=2)
    assert "lab01_functional_api" in proc.stderr


@pytest.mark.slow
def test_empty_submissions_say_what_layouts_work(tmp_path):
    """Does an empty submissions folder explain the accepted layouts (before any work)?"""
    (tmp_path / "in").mkdir()
    proc = run_cli("grade", LAB, str(tmp_path / "in"), "--course", str(tmp_path / "c"), retcode=2)
    assert "Accepted layouts" in proc.stderr
    assert not (tmp_path / "c" / "gradebook.db").exists()
