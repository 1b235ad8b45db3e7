"""`kerascourse grade` end to end on lab01: generate, grade, feedback, export, re-runs.

Simulated students are built from the release notebook with small cell factories (also
used by test_adversarial.py). The grader config used here is a private TOML file outside
the repository with few epochs (fast) and a low quality threshold (wide margins), so
every expected score below is exact.
"""

from __future__ import annotations

import copy
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
from kerascourse.autograder import course as course_mod
from kerascourse.autograder.feedback import feedback_path, hidden_lines, leaked_lines
from kerascourse.autograder.merge import count_submissions
from kerascourse.autograder.pipeline import GradeOptions, grade_lab, prepare_course, read_course
from kerascourse.autograder.store import ResultsStore

from kerascourse import release as release_mod

ROOT = Path(__file__).resolve().parents[2]
LAB = "lab01_functional_api"
SOURCE = ROOT / "labs" / LAB / f"{LAB}.ipynb"
CELLS = ["q1_io_names_shapes", "q1_architecture", "q2_budget", "q2_device", "q3_quality"]
POINTS = {"q1_io_names_shapes": 1, "q1_architecture": 2, "q2_budget": 2, "q2_device": 1}
POINTS["q3_quality"] = 3
#: The test grader config: 2 epochs (fast), threshold 0.5 and ratio 10 (wide margins).
TEST_CONFIG = "epochs = 2\nquality_threshold = 0.5\nmax_time_ratio = 10.0\n"
ANSWER = (
    "Subclass keras.Model when the forward pass needs Python control flow; the cost is "
    "that Keras cannot see the graph (no summary before it runs, harder to save)."
)

# ----------------------------------------------------------------------- cell factories


def build_model_source(*, hidden: int = 32, out_name: str = "digit", frozen: bool = False) -> str:
    """A `build_model` cell: the lab's CNN with knobs for the simulated students."""
    tail = "    return model\n"
    if frozen:  # nothing trains: the grader's accuracy stays at chance level
        tail = "    for layer in model.layers:\n        layer.trainable = False\n" + tail
    return (
        "def build_model():\n"
        '    inputs = keras.Input(shape=(28, 28, 1), name="image")\n'
        '    x = layers.Conv2D(16, 3, activation="relu", name="conv1")(inputs)\n'
        '    x = layers.MaxPooling2D(name="pool1")(x)\n'
        '    x = layers.Conv2D(32, 3, activation="relu", name="conv2")(x)\n'
        '    x = layers.MaxPooling2D(name="pool2")(x)\n'
        '    x = layers.Flatten(name="flatten")(x)\n'
        f'    x = layers.Dense({hidden}, activation="relu", name="hidden")(x)\n'
        f'    outputs = layers.Dense(10, activation="softmax", name="{out_name}")(x)\n'
        '    model = keras.Model(inputs=inputs, outputs=outputs, name="digits_cnn")\n' + tail
    )


def lab_solution_source() -> str:
    """The lab's own solution of `build_model`, delimiters removed."""
    cell = find(nbformat.read(SOURCE, as_version=4), "build_model")
    return "\n".join(ln for ln in cell.source.splitlines() if "### " not in ln)


def find(nb, grade_id: str):
    """The cell with this nbgrader grade id."""
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise KeyError(grade_id)


def index_of(nb, grade_id: str) -> int:
    return nb.cells.index(find(nb, grade_id))


def student(
    release, *, build: str | None = None, answer: str | None = ANSWER, written: str = "q4_written"
):
    """A copy of the release with `build_model` (None: left blank) and the written answer
    (in the cell `written`)."""
    nb = copy.deepcopy(release)
    if build is not None:
        find(nb, "build_model").source = build
    if answer is not None:
        find(nb, written).source = answer
    return nb


def add_code(nb, source: str, *, after: str | None = None, before: str | None = None):
    """Insert an ordinary (ungraded) code cell after/before a grade id, or at the end."""
    cell = nbformat.v4.new_code_cell(source)
    if after is not None:
        nb.cells.insert(index_of(nb, after) + 1, cell)
    elif before is not None:
        nb.cells.insert(index_of(nb, before), cell)
    else:
        nb.cells.append(cell)
    return nb


def write(nb, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def new_course(base: Path, *, cell_timeout: int = 300) -> tuple[Path, Path, object]:
    """A course folder with lab01 released; returns (course, release path, release nb)."""
    course = base / "course"
    course_mod.setup_course(course, ROOT / "labs", cell_timeout=cell_timeout)
    release = prepare_course(course, LAB)
    return course, release, nbformat.read(release, as_version=4)


def private_config(base: Path) -> Path:
    """The instructor's private config, outside the repository."""
    path = base / "private" / "grader.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TEST_CONFIG)
    return path


def run_cli(*args: str, retcode: int = 0, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run `kerascourse ARGS` and check its exit status."""
    proc = subprocess.run(
        [sys.executable, "-m", "kerascourse", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == retcode, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def cell_scores(record) -> dict[str, float]:
    return {gid: s["score"] for gid, s in record["scores"].items()}


# ----------------------------------------------------------------------- end to end

EXPECTED = {
    # student: (status, score, per-cell scores)
    "full": ("graded", 9.0, dict(POINTS)),
    "blank": ("failed", 0.0, dict.fromkeys(CELLS, 0.0)),
    "partial": ("graded", 8.0, {**POINTS, "q1_io_names_shapes": 0.0}),  # output misnamed
    "over_budget": ("graded", 7.0, {**POINTS, "q2_budget": 0.0}),  # 108,618 parameters
}


def grade_class(base: Path) -> dict:
    """One grading run of four students in nbgrader's submitted/ layout."""
    course, _, release = new_course(base)
    config = private_config(base)
    notebooks = {
        "full": student(release, build=lab_solution_source()),
        "blank": student(release, build=None, answer=None),
        "partial": student(release, build=build_model_source(out_name="probs")),
        "over_budget": student(release, build=build_model_source(hidden=128)),
    }
    for sid, nb in notebooks.items():
        write(nb, course / "submitted" / sid / LAB / f"{LAB}.ipynb")
    options = GradeOptions(jobs=2, config_path=str(config), timeout=600, progress=False)
    report = grade_lab(LAB, course / "submitted", course, options)
    return {"course": course, "config": config, "report": report, "options": options}


def case_each_student_gets_the_exact_score(e2e):
    """Does every simulated student get exactly the score their model earns?"""
    report = e2e["report"]
    assert sorted(report.graded_now) == sorted(EXPECTED)
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
    """Does a second run over the same submissions grade nobody and change nothing?"""
    course, options = e2e["course"], e2e["options"]
    store = ResultsStore(course, LAB)
    before = {r["student_id"]: r["graded_at"] for r in store.records()}
    again = grade_lab(LAB, course / "submitted", course, options)
    assert again.graded_now == []
    assert again.skipped == sorted(EXPECTED)
    assert {r["student_id"]: r["graded_at"] for r in store.records()} == before
    assert count_submissions(read_course(course).db_url, LAB) == dict.fromkeys(EXPECTED, 1)


def case_merging_again_updates_instead_of_duplicating(e2e):
    """Does merging a student twice (a re-grade) update the one submission in place?"""
    import shutil

    from kerascourse.autograder.merge import CellScore, merge_into_gradebook

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
    case_each_student_gets_the_exact_score,
    case_gradebook_holds_the_trusted_scores,
    case_feedback_has_no_hidden_tests,
    case_autograded_notebook_is_clean,
    case_export_csv_and_class_report,
    case_results_are_json_records,
    case_merging_again_updates_instead_of_duplicating,
    case_rerun_grades_nothing_twice,  # last: it grades again
]


@pytest.mark.slow
def test_grade_a_class_end_to_end(tmp_path):
    """Generate lab01, grade four simulated students, give feedback, export: all exact?

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


# ----------------------------------------------------------------------- crash safety


@pytest.mark.slow
def test_kill_mid_batch_then_rerun_grades_each_student_once(tmp_path):
    """After SIGKILL mid-batch, does a re-run finish the rest, each student graded once?"""
    course, _, release = new_course(tmp_path)
    config = private_config(tmp_path)
    archive = tmp_path / "lms_download.zip"
    solution = student(release, build=build_model_source())
    quick = copy.deepcopy(solution)  # alice: her kernel dies at once, her record comes first
    quick.cells.insert(0, nbformat.v4.new_code_cell("import os\nos._exit(0)"))
    with zipfile.ZipFile(archive, "w") as zf:
        for sid, nb in (("alice", quick), ("bob", solution), ("carol", solution)):
            zf.writestr(f"export/{sid}_{LAB}.ipynb", nbformat.writes(nb))
    args = ["grade", LAB, str(archive), "--course", str(course), "--jobs", "2"]
    args += ["--config", str(config), "--no-progress"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "kerascourse", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    store = ResultsStore(course, LAB)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and not list(store.records()):
        assert proc.poll() is None, "the grader ended before it could be killed"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the grader and its workers, like a power cut
    proc.wait()
    first = {r["student_id"]: r["graded_at"] for r in store.records()}
    assert 1 <= len(first) < 3, first

    run_cli(*args)
    records = {r["student_id"]: r for r in store.records()}
    assert sorted(records) == ["alice", "bob", "carol"]
    assert all(r["merged"] for r in records.values())
    assert {sid: r["score"] for sid, r in records.items()} == {"alice": 0, "bob": 9, "carol": 9}
    for sid, graded_at in first.items():
        assert records[sid]["graded_at"] == graded_at, f"{sid} was graded twice"
    db_url = read_course(course).db_url
    assert count_submissions(db_url, LAB) == {"alice": 1, "bob": 1, "carol": 1}
    for sid in records:  # feedback too, also for the student committed before the kill
        assert feedback_path(course, LAB, sid).exists()
    assert [p.name for p in (course / ".kerascourse" / "work").iterdir()] == []


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


# ----------------------------------------------------------------------- unit level


def _tiny_release():
    """A two-test release notebook with nbgrader metadata and real checksums."""
    from nbgrader.utils import compute_checksum

    def cell(source, gid, *, grade, locked, solution=False, points=None):
        c = nbformat.v4.new_code_cell(source)
        meta = {"grade": grade, "grade_id": gid, "locked": locked, "solution": solution}
        meta["schema_version"] = 3
        if points is not None:
            meta["points"] = points
        c.metadata["nbgrader"] = meta
        c.metadata["nbgrader"]["checksum"] = compute_checksum(c)
        return c

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        cell("import keras", "setup", grade=False, locked=True),
        cell("# YOUR CODE HERE", "build_model", grade=False, locked=False, solution=True),
        cell("check(model)", "q1", grade=True, locked=True, points=1),
        cell("check2(model)", "q2", grade=True, locked=True, points=2),
    ]
    return nb


def test_tamper_flags_name_each_change():
    """Are an edited locked cell, a deleted and a duplicated test cell each flagged?"""
    from kerascourse.autograder.merge import tamper_flags

    release = _tiny_release()
    sub = copy.deepcopy(release)
    sub.cells[0].source = "import keras  # mine"
    sub.cells.append(copy.deepcopy(sub.cells[2]))
    del sub.cells[3]  # q2
    assert tamper_flags(sub, release) == [
        "locked cell edited: setup",
        "cell duplicated: q1 (2 copies)",
        "grade cell deleted: q2",
    ]
    assert tamper_flags(copy.deepcopy(release), release) == []


def test_finalize_restores_cells_and_writes_trusted_output():
    """Are locked cells restored, a deleted test put back, and its output the grader's?"""
    from kerascourse.autograder.merge import CellScore, finalize_notebook

    release = _tiny_release()
    sub = copy.deepcopy(release)
    sub.cells[2].source = "print('all passed')"
    sub.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="all passed")]
    del sub.cells[3]
    scores = {"q1": CellScore(0.0, 1.0, ["[FAILED] q1: no"]), "q2": CellScore(2.0, 2.0)}
    final = finalize_notebook(sub, release, scores)
    assert [find(final, g).source for g in ("q1", "q2")] == ["check(model)", "check2(model)"]
    text = find(final, "q1").outputs[0]["text"]
    assert text.startswith("Score from the grader (computed outside your kernel): 0 / 1")
    assert "[FAILED] q1: no" in text
    assert "all passed" not in json.dumps(final)


def test_leak_check_sees_through_syntax_highlighting():
    """Is a hidden line found even when the HTML splits it into highlighted spans?"""
    page = (
        '<span class="n">selfcheck</span><span class="o">.</span><span class="n">lab01'
        '</span>(<span class="s2">&quot;q2&quot;</span>, <span class="n">model</span>)'
    )
    assert leaked_lines(page, ['selfcheck.lab01("q2", model)']) == ['selfcheck.lab01("q2", model)']
    assert leaked_lines("<p>nothing here</p>", ['selfcheck.lab01("q2", model)']) == []


def test_class_report_renders_without_a_course():
    """Does the class report show the plot, pass rates, budgets and flags from records?"""
    from kerascourse.autograder.classreport import pass_rates, render

    records = [
        {"student_id": "a", "status": "graded", "score": 3.0, "max_score": 3.0, "flags": [],
         "scores": {"q1": {"score": 1, "points": 1}, "q2": {"score": 2, "points": 2}},
         "budget": {"params": 30762, "flops": 1405140, "time_ratio": 1.02, "accuracy": 0.93}},
        {"student_id": "b", "status": "crashed", "score": 0.0, "max_score": 3.0,
         "flags": ["locked cell edited: q1"], "reason": "timed out",
         "scores": {"q1": {"score": 0, "points": 1}, "q2": {"score": 0, "points": 2}}},
    ]  # fmt: skip
    assert pass_rates(records)["q2"] == {"full": 0.5, "mean": 1.0, "points": 2.0}
    page = render("lab", records, sandbox="NO SANDBOX (test)")
    assert "data:image/png;base64," in page
    assert "30,762" in page
    assert "locked cell edited: q1" in page
    assert "class='warn'" in page
