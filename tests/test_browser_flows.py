"""The class workflow in a real JupyterLab, driven by headless Chromium: learner, then
instructor, as people would click through it.

The server is started with the command behind ``make lab`` (:func:`kerascourse.lab.lab_command`)
on 127.0.0.1, rooted at a throwaway nbgrader course that uses a throwaway exchange folder.

- Learner: open the Assignments tab (nbgrader's assignment list) after the instructor
  released lab 04, fetch it, open the notebook, write the callback into its solution cell,
  press **Validate** and read nbgrader's verdict, then **Submit**.
- Instructor: collect, put a second, wrong submission next to the learner's, grade both
  with the kit's own command (``kerascourse grade``: sandboxed kernel, trusted scorer), open
  the formgrader and see the assignment with its submissions, then open the learner's
  feedback page.

This is lab 04's one end-to-end grading: both students get exactly the expected per-cell
scores (tests/support/labcase.py checks them, the feedback pages, the CSV and the class
report as for every other lab), and the release nbgrader makes here is compared with the
committed student version.

Screenshots of each step go to ``benchmarks/results/screenshots/`` (overwritten each run);
the README shows two of them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from kerascourse.autograder.core.registry import get_lab
from kerascourse.autograder.pipeline import course as course_mod
from kerascourse.autograder.pipeline.store import ResultsStore
from support import labcase

ROOT = Path(__file__).resolve().parents[1]
LAB = "lab04_callbacks"
SPEC = get_lab(LAB)
COURSE_ID = "kerascourse"
SHOTS = ROOT / "benchmarks" / "results" / "screenshots"
#: The learner's cell (solution region); what the learner types is the lab's solution.
CELL = "relative_early_stopping"
#: Right decisions and stops, but state set once in __init__ and nothing restored.
WRONG = """class RelativeEarlyStopping(keras.callbacks.Callback):
    def __init__(self, patience=3, min_relative_delta=0.01, monitor="val_loss"):
        super().__init__()
        self.patience, self.min_relative_delta, self.monitor = patience, min_relative_delta, monitor
        self.best, self.wait, self.decisions = math.inf, 0, []

    def on_epoch_end(self, epoch, logs=None):
        value = float(logs[self.monitor])
        if value < self.best * (1 - self.min_relative_delta):
            self.best, self.wait, action = value, 0, "improved"
        else:
            self.wait += 1
            action = "stopped" if self.wait >= self.patience else "waited"
            self.model.stop_training = action == "stopped"
        self.decisions.append({"epoch": epoch, "value": value, "action": action})
"""
WRONG_LOST = ("q3_restore", "q4_decision_log")
WRONG_FEEDBACK = ("the model ended with epoch 7's weights; the best epoch was 4",)


def _solution() -> str:
    """The lab's solution cell, without nbgrader's markers: what the learner types."""
    return labcase.solution_sources(ROOT / "labs" / LAB / SPEC.notebook, (CELL,))[CELL]


def _run(*argv: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    done = subprocess.run(
        list(argv), cwd=cwd, env=course_mod.nbgrader_env(), capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip
    assert done.returncode == 0, (argv, done.stdout[-3000:], done.stderr[-3000:])
    return done


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """An nbgrader course (also a course root: chapters/ and labs/) with lab 04 released
    to a private exchange, as an instructor would set it up."""
    course = tmp_path / "course"
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)
    course_mod.setup_course(course, ROOT / "labs")
    (course / "chapters").mkdir()
    (course / "labs").mkdir()
    with open(course / "nbgrader_config.py", "a", encoding="utf-8") as cfg:
        cfg.write(f"\nc.CourseDirectory.course_id = {COURSE_ID!r}\n")
        cfg.write(f"c.Exchange.root = {str(exchange)!r}\n")
        cfg.write(f"c.Exchange.cache = {str(tmp_path / 'exchange-cache')!r}\n")
    labcase.assert_release_is_committed(LAB, course_mod.generate_assignment(course, LAB))
    _run(*course_mod.nbgrader_command("release_assignment", LAB, "--force"), cwd=course)
    return course


@pytest.fixture
def server(course: Path, lab_server):
    """JupyterLab started like `make lab` at the course folder."""
    with lab_server(course) as started:
        yield started


def _open_assignment_list(page, base: str, token: str) -> None:
    """JupyterLab, then Nbgrader > Assignment List, as a learner opens it."""
    page.goto(f"{base}/lab?token={token}", wait_until="domcontentloaded")
    page.wait_for_selector("#jp-main-dock-panel", timeout=90_000)
    page.locator("div.lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    page.locator("li[data-command='nbgrader:open-assignment-list']").click()


def _rows(page, name: str):
    return page.locator(f"#{name}_assignments_list > .list_item")


@pytest.mark.slow
def test_learner_fetches_validates_submits_and_instructor_grades(server, course, browser):
    """Assignment list -> fetch -> write the callback -> Validate passes -> Submit; then
    collect, add a wrong submission, `kerascourse grade` both with exact per-cell scores,
    the formgrader lists the submission, feedback opens."""
    from playwright.sync_api import expect

    base, token = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.set_default_timeout(60_000)
    page = browser.new_page()
    # --- learner: the assignment list, fetch
    _open_assignment_list(page, base, token)
    released = _rows(page, "released")
    expect(released).to_have_count(1, timeout=60_000)
    expect(released.first.locator(".item_name")).to_have_text(LAB)
    released.first.locator(".item_status button").click()
    fetched = _rows(page, "fetched")
    expect(fetched).to_have_count(1)
    page.screenshot(path=str(SHOTS / "flow_1_assignment_list.png"))

    # --- learner: write the solution, Validate
    page.goto(f"{base}/lab/tree/{LAB}/{LAB}.ipynb?token={token}")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)
    cell = page.locator(".jp-CodeCell", has_text="class RelativeEarlyStopping").first
    cell.scroll_into_view_if_needed()
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(_solution())
    page.keyboard.press("Escape")
    answer = page.locator(".jp-MarkdownCell", has_text="YOUR ANSWER HERE").first
    answer.scroll_into_view_if_needed()
    answer.dblclick()
    answer.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text("A relative margin keeps its meaning at every loss scale.")
    page.keyboard.press("Shift+Enter")  # render it again
    page.keyboard.press("Control+s")
    page.wait_for_timeout(1000)
    page.locator(".validate-button").first.click()
    verdict = page.locator("#validation-message")
    expect(verdict).to_be_visible(timeout=300_000)
    assert "validation-success" in verdict.get_attribute("class"), verdict.inner_text()
    assert "Success! Your notebook passes all the tests." in verdict.inner_text()
    page.screenshot(path=str(SHOTS / "flow_2_validate.png"))
    page.keyboard.press("Escape")

    # --- learner: submit
    _open_assignment_list(page, base, token)
    fetched = _rows(page, "fetched")
    expect(fetched).to_have_count(1, timeout=60_000)
    fetched.first.locator(".item_status button", has_text="Submit").click()
    expect(_rows(page, "submitted")).to_have_count(1, timeout=60_000)

    # --- instructor: collect, a second (wrong) submission beside it, grade with the kit
    _run(*course_mod.nbgrader_command("collect", LAB), cwd=course)
    (user,) = [p.name for p in (course / "submitted").iterdir()]
    release = nbformat.read(course_mod.release_path(course, LAB), as_version=4)
    labcase.submit(
        release, SPEC, {CELL: WRONG}, course / "submitted" / "wrong" / LAB / SPEC.notebook
    )
    kit = Path(sys.executable).parent / "kerascourse"
    _run(str(kit), "grade", LAB, str(course / "submitted"), "--course", str(course),
         "--jobs", "2", "--no-progress", cwd=course)  # fmt: skip
    expected = {user: labcase.expected_scores(SPEC),
                "wrong": labcase.expected_scores(SPEC, WRONG_LOST)}  # fmt: skip
    store = ResultsStore(course, LAB)
    records = {sid: store.get(sid) for sid in expected}
    labcase.assert_graded_exactly(SPEC, course, records, expected, wrong=("wrong", WRONG_FEEDBACK))
    labcase.assert_runs_cleanly_when_graded(course, SPEC, user)

    # --- instructor: the formgrader
    page.goto(f"{base}/formgrader?token={token}", wait_until="domcontentloaded")
    row = page.locator("tr", has_text=LAB).first
    expect(row).to_be_visible(timeout=60_000)
    page.screenshot(path=str(SHOTS / "flow_3_formgrader.png"))
    page.goto(f"{base}/formgrader/manage_submissions/{LAB}?token={token}")
    expect(page.locator("tr", has_text=user).first).to_be_visible(timeout=60_000)

    # --- the learner's feedback page, from the course folder
    feedback = f"feedback/{user}/{LAB}/{LAB}.html"
    assert (course / feedback).is_file()
    page.goto(f"{base}/files/{feedback}?token={token}")
    expect(page.locator("body")).to_contain_text("Score from the grader")
    # Every autograded point (8); the written answer waits for the instructor.
    expect(page.locator("body")).to_contain_text(f"{LAB} (Score: 8.0 / 10.0)")
    page.screenshot(path=str(SHOTS / "flow_4_feedback.png"), full_page=False)
    grades = (course / "exports" / "grades.csv").read_text()
    assert user in grades
