"""What every lab's test module checks, written once: a lab declares a :class:`Case` and
calls these.

Why a module of its own: each lab's tests live in one file
(``tests/autograder/labs/test_labNN.py``), but the notebook checks (grade cells match the
spec, test cells locked, solution and export hygiene) and the end-to-end grading of a
class of two (the solution and a wrong submission through generate, grade, feedback and
export, with exact scores) are the same for every lab. Adding a lab means adding one test
module that declares its ``Case`` and calls the functions below; the nbgrader course they
grade in is the session's (``lab_course`` in ``tests/autograder/labs/conftest.py``).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from kerascourse.autograder.core.registry import get_lab
from kerascourse.autograder.core.spec import LabSpec

from kerascourse import release as release_mod
from support import notebooks as nbs

ROOT = Path(__file__).resolve().parents[2]  # tests/support/ -> the repository
#: The written answer of both simulated students (graded by a person, never scored here).
ANSWER = "A short honest answer to the written question, for the instructor to grade."


@dataclass(frozen=True)
class Case:
    """One lab's simulated class: which cells the learner writes and what each earns.

    Attributes:
        lab_id: the lab (nbgrader assignment id).
        selfcheck: the ``selfcheck`` function its test cells call (``"lab02"``).
        solution_cells: grade ids of the solution regions.
        wrong: grade id -> source of the wrong student's cell. Empty when the lab's class
            is graded elsewhere (lab04: tests/test_browser_flows.py).
        wrong_lost: the grade cells the wrong student scores 0 on.
        wrong_feedback: phrases on the wrong student's feedback page.
        argument: what the test cells pass to ``selfcheck``.
        export_cell: grade id of the last, locked cell.
        export_call: what that cell writes.
        long_cells: cells allowed past the 15-line limit (a class exported as one cell).
        dask: grade on a local Dask cluster (``kerascourse grade --dask``) instead of the
            process pool; one lab (the cheapest) carries that path.
    """

    lab_id: str
    selfcheck: str
    solution_cells: tuple[str, ...]
    wrong: Mapping[str, str] = field(default_factory=dict)
    wrong_lost: tuple[str, ...] = ()
    wrong_feedback: tuple[str, ...] = ()
    argument: str = "model"
    export_cell: str = "export_model"
    export_call: str = "model.to_json()"
    long_cells: tuple[str, ...] = ()
    dask: bool = False

    @property
    def lab(self) -> LabSpec:
        return get_lab(self.lab_id)

    @property
    def notebook(self) -> Path:
        return ROOT / "labs" / self.lab_id / self.lab.notebook

    def read(self) -> Any:
        """The lab's source notebook."""
        return nbformat.read(self.notebook, as_version=4)


def meta(cell: Any) -> dict:
    """A cell's nbgrader metadata ({} for an ordinary cell)."""
    return cell.metadata.get("nbgrader", {})


def cell(nb: Any, grade_id: str) -> Any:
    """The one cell with this grade id (fails when there are none or two)."""
    (found,) = [c for c in nb.cells if meta(c).get("grade_id") == grade_id]
    return found


def solution_sources(notebook: Path, grade_ids: tuple[str, ...]) -> dict[str, str]:
    """Grade id -> the source notebook's solution, nbgrader's markers removed: what a
    learner who solved the lab types."""
    source = nbformat.read(notebook, as_version=4)
    return {gid: "\n".join(ln for ln in cell(source, gid).source.splitlines() if "### " not in ln)
            for gid in grade_ids}  # fmt: skip


# ----------------------------------------------------------------------- the notebook


def check_grade_cells_match_the_lab_spec(case: Case) -> None:
    """The notebook's grade cells, their order and points are exactly the lab spec's."""
    nb = case.read()
    cells = [(meta(c)["grade_id"], meta(c)["points"], c.cell_type) for c in nb.cells
             if meta(c).get("grade")]  # fmt: skip
    expected = [(g.grade_id, g.points, "markdown" if g.manual else "code")
                for g in case.lab.grade_cells]  # fmt: skip
    assert cells == expected
    nbformat.validate(nb)


def check_test_cells_are_locked_and_run_the_specs_checks(case: Case) -> None:
    """Each test cell runs its visible checks first, then hidden ones in the markers."""
    nb = case.read()
    for spec in case.lab.autograded:
        test = cell(nb, spec.grade_id)
        assert meta(test)["locked"] is True
        lines = test.source.splitlines()
        call = f'selfcheck.{case.selfcheck}("{spec.grade_id}", {case.argument}'
        assert lines[0] == call + ")"
        hidden = ["### BEGIN HIDDEN TESTS", call + ', part="hidden")', "### END HIDDEN TESTS"]
        assert lines[1:] == (hidden if spec.hidden else [])


def check_solutions_export_and_cell_hygiene(case: Case) -> None:
    """The solution regions are marked, the export last and locked, the cells short with
    prose before each, and the outputs cleared."""
    nb = case.read()
    for gid in case.solution_cells:
        solution = cell(nb, gid)
        assert meta(solution)["solution"] is True
        assert re.search(r"### BEGIN SOLUTION\n.+### END SOLUTION", solution.source, re.DOTALL)
    last = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert meta(last)["grade_id"] == case.export_cell
    assert meta(last)["locked"] is True
    assert f'open("{case.lab.export_file}", "w"' in last.source
    assert case.export_call in last.source
    for before, code in zip(nb.cells, nb.cells[1:], strict=False):
        if code.cell_type == "code":
            assert before.cell_type == "markdown", code.source[:60]
            limit = 40 if meta(code).get("grade_id") in case.long_cells else 15
            assert len([ln for ln in code.source.splitlines() if ln.strip()]) <= limit
            assert not code.outputs
            assert code.execution_count is None
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for graded in case.lab.grade_cells:
        assert f"`{graded.grade_id}`" in text


# ----------------------------------------------------------------------- end to end


class NotebookTests:
    """The notebook checks every lab runs: subclass with ``CASE = <the lab's Case>``.

    Why a class: pytest collects the inherited methods for each lab's ``TestNotebook``, so
    a lab's test module states its case once instead of repeating three small tests.
    """

    CASE: Case

    def test_grade_cells_match_the_lab_spec(self) -> None:
        """Are the notebook's grade cells, their order and points exactly the lab spec's?"""
        check_grade_cells_match_the_lab_spec(self.CASE)

    def test_test_cells_are_locked_and_run_the_specs_checks(self) -> None:
        """Does each test cell run its visible checks first, then hidden ones in the markers?"""
        check_test_cells_are_locked_and_run_the_specs_checks(self.CASE)

    def test_solutions_export_and_cell_hygiene(self) -> None:
        """Are the solution regions marked, the export last and locked, the cells short with
        prose before each, and the outputs cleared?"""
        check_solutions_export_and_cell_hygiene(self.CASE)


def assert_release_is_committed(lab_id: str, release_path: Path) -> Any:
    """The release nbgrader just made holds no solution and equals the committed student
    version (what the Colab badges open); returns the release notebook."""
    release = nbformat.read(release_path, as_version=4)
    assert "BEGIN SOLUTION" not in json.dumps(release)
    committed = ROOT / "release" / lab_id / release_path.name
    assert release_mod.comparable(committed) == release_mod.comparable(release_path), (
        release_mod.stale_message(lab_id)
    )
    return release


def submit(release: Any, lab: LabSpec, cells: Mapping[str, str], path: Path) -> Path:
    """A copy of the release with `cells` (grade id -> source) written in and the written
    answer given, saved at `path` (``submitted/<student>/<lab>/<notebook>``)."""
    manual = next(c.grade_id for c in lab.grade_cells if c.manual)
    nb = nbs.student(release, answer=ANSWER, written=manual)
    for gid, text in cells.items():
        cell(nb, gid).source = text
    return nbs.write(nb, path)


def expected_scores(lab: LabSpec, lost: tuple[str, ...] = ()) -> dict[str, float]:
    """Grade id -> points of every autograded cell, 0 for those in `lost`."""
    points = {c.grade_id: float(c.points) for c in lab.autograded}
    return {**points, **dict.fromkeys(lost, 0.0)}


def assert_graded_exactly(
    lab: LabSpec,
    course: Path,
    records: Mapping[str, dict[str, Any]],
    expected: Mapping[str, dict[str, float]],
    *,
    wrong: tuple[str, tuple[str, ...]] | None = None,
) -> None:
    """Every student of `expected` is graded with exactly those per-cell scores; no feedback
    page shows a hidden test line; the wrong student's page has its phrases; the CSV rows of
    this lab and the class report agree.

    Args:
        lab: the lab graded.
        course: the nbgrader course it was graded in (may hold other labs too).
        records: student id -> the results record (``GradingReport.record`` or the store).
        expected: student id -> grade id -> score.
        wrong: (student id, phrases its feedback page must show). Defaults to `None`.
    """
    from kerascourse.autograder.pipeline.classreport import report_path
    from kerascourse.autograder.pipeline.feedback import feedback_path, hidden_lines, leaked_lines

    for sid, cells in expected.items():
        rec = records[sid]
        assert rec["status"] == "graded", (sid, rec.get("reason"))
        assert nbs.cell_scores(rec) == cells, sid
        assert rec["score"] == sum(cells.values())
    hidden = hidden_lines(ROOT / "labs" / lab.lab_id / lab.notebook)
    assert hidden
    for sid in expected:
        page = feedback_path(course, lab.lab_id, sid).read_text()
        assert leaked_lines(page, hidden) == [], sid
        assert "Score from the grader" in page
    if wrong is not None:
        sid, phrases = wrong
        page = feedback_path(course, lab.lab_id, sid).read_text()
        for phrase in phrases:
            assert phrase in page
    with (course / "exports" / "grades.csv").open() as grades:  # every lab of the course
        rows = {r["student_id"]: float(r["raw_score"]) for r in csv.DictReader(grades)
                if r["assignment"] == lab.lab_id}  # fmt: skip
    assert rows == {sid: sum(cells.values()) for sid, cells in expected.items()}
    report_page = report_path(course, lab.lab_id).read_text()
    if lab.submission == "model":
        assert f">{lab.metric}<" in report_page
    for graded in lab.autograded:  # the per-test table names every graded cell
        assert graded.grade_id in report_page


def assert_runs_cleanly_when_graded(course: Path, lab: LabSpec, student_id: str) -> None:
    """The student's autograded notebook shows no error and no stderr in any cell the
    grading kernel ran (test cells hold the trusted scorer's report instead: see
    ``build_template_gradebook``'s stubbed tests)."""
    path = course / "autograded" / student_id / lab.lab_id / lab.notebook
    graded = nbformat.read(path, as_version=4)
    tests = {c.grade_id for c in lab.autograded}
    noisy = [(i, out.get("name") or out.get("ename"))
             for i, code in enumerate(c for c in graded.cells if c.cell_type == "code")
             if meta(code).get("grade_id") not in tests
             for out in code.get("outputs", [])
             if out.get("output_type") == "error"
             or (out.get("output_type") == "stream" and out.get("name") == "stderr")]  # fmt: skip
    assert noisy == [], f"{student_id}'s graded run wrote errors or stderr (code cell, what)"


@contextlib.contextmanager
def local_dask_cluster() -> Iterator[tuple[str, set[str]]]:
    """Two single-threaded Dask worker processes; yields the address and 'host:pid' names."""
    import socket

    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:  # fmt: skip
        pids = client.run(os.getpid).values()
        yield cluster.scheduler_address, {f"{socket.gethostname()}:{pid}" for pid in pids}


def grade_a_class_of_two(case: Case, course: Path, submitted: Path) -> None:
    """Release the lab in `course`, write the solution and the wrong submission into
    `submitted` (nbgrader's layout, this lab only), grade them and check everything.

    Args:
        case: the lab's class.
        course: an nbgrader course set up by ``setup_course`` (the session's, shared by
            every lab: each lab is its own assignment).
        submitted: an empty folder for this test's ``<student>/<lab>/`` notebooks.
    """
    from kerascourse.autograder.pipeline import GradeOptions, grade_lab, prepare_course
    from kerascourse.autograder.pipeline.classreport import report_path

    lab = case.lab
    release = assert_release_is_committed(lab.lab_id, prepare_course(course, lab.lab_id))
    solution = solution_sources(case.notebook, case.solution_cells)
    students = {"solution": solution, "wrong": {**solution, **case.wrong}}
    for sid, cells in students.items():
        submit(release, lab, cells, submitted / sid / lab.lab_id / lab.notebook)

    options = GradeOptions(jobs=2, timeout=600, progress=False)
    if case.dask:
        with local_dask_cluster() as (address, workers):
            options = dataclasses.replace(options, dask_scheduler=address)
            report = grade_lab(lab.lab_id, submitted, course, options)
        assert {report.record(sid)["graded_by"] for sid in students} <= workers
    else:
        report = grade_lab(lab.lab_id, submitted, course, options)

    assert report.csv_path.resolve() == (course / "exports" / "grades.csv").resolve()
    assert report.report_path.resolve() == report_path(course, lab.lab_id).resolve()
    expected = {"solution": expected_scores(lab), "wrong": expected_scores(lab, case.wrong_lost)}
    records = {sid: report.record(sid) for sid in expected}
    assert_graded_exactly(lab, course, records, expected, wrong=("wrong", case.wrong_feedback))
    assert_runs_cleanly_when_graded(course, lab, "solution")
