"""Lab 01's source notebook: nbgrader cells that match the lab spec, and a solution that
runs cleanly and earns every autograded point from the trusted scorer.

Lab 01 is the pipeline's own lab: its classes are graded end to end (and its committed
release compared with a fresh one) in tests/autograder/pipeline/test_pipeline.py.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest
from kerascourse.autograder.core.registry import get_lab

ROOT = Path(__file__).resolve().parents[3]
LAB = get_lab("lab01_functional_api")
NOTEBOOK = ROOT / "labs" / LAB.lab_id / LAB.notebook


@pytest.fixture(scope="module")
def nb():
    return nbformat.read(NOTEBOOK, as_version=4)


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def test_grade_cells_match_the_lab_spec(nb):
    """Are the notebook's grade cells, their order and points exactly the lab spec's?"""
    cells = [
        (_meta(c)["grade_id"], _meta(c)["points"], c.cell_type)
        for c in nb.cells
        if _meta(c).get("grade")
    ]
    expected = [(g.grade_id, g.points, "markdown" if g.manual else "code") for g in LAB.grade_cells]
    assert cells == expected


def test_grade_ids_are_unique_and_cells_valid(nb):
    """Are all nbgrader ids unique, and is the notebook clean nbformat with python3?"""
    ids = [_meta(c)["grade_id"] for c in nb.cells if _meta(c)]
    assert len(ids) == len(set(ids))
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert all(
        not c.outputs and c.execution_count is None for c in nb.cells if c.cell_type == "code"
    )


def test_test_cells_are_locked_and_run_the_specs_checks(nb):
    """Does each test cell run its visible checks first, then hidden ones in the markers?"""
    for spec in LAB.autograded:
        (cell,) = [c for c in nb.cells if _meta(c).get("grade_id") == spec.grade_id]
        assert _meta(cell)["locked"] is True
        assert _meta(cell)["solution"] is False
        lines = cell.source.splitlines()
        assert lines[0] == f'selfcheck.lab01("{spec.grade_id}", model)'
        if spec.hidden:
            assert lines[1:] == [
                "### BEGIN HIDDEN TESTS",
                f'selfcheck.lab01("{spec.grade_id}", model, part="hidden")',
                "### END HIDDEN TESTS",
            ]
        else:
            assert len(lines) == 1


def test_solution_and_written_answer_are_marked(nb):
    """Is build_model a solution region, and the written answer a manual grade cell?"""
    (solution,) = [c for c in nb.cells if _meta(c).get("grade_id") == "build_model"]
    assert _meta(solution)["solution"] is True
    assert _meta(solution)["grade"] is False
    assert re.search(r"### BEGIN SOLUTION\n.+### END SOLUTION", solution.source, re.DOTALL)
    (written,) = [c for c in nb.cells if _meta(c).get("grade_id") == "q4_written"]
    assert _meta(written)["solution"] is True
    assert "subclass" in written.source.lower()


def test_last_cell_exports_the_architecture_and_is_read_only(nb):
    """Is the last code cell a locked, ungraded export of model.to_json() to the spec's file?"""
    last = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert _meta(last) == {"grade": False, "solution": False, "locked": True,
                           "grade_id": "export_model", "schema_version": 3}  # fmt: skip
    assert f'open("{LAB.export_file}", "w"' in last.source
    assert "model.to_json()" in last.source


def test_prose_before_every_code_cell_and_short_cells(nb):
    """Does a markdown cell precede every code cell, with code cells of at most 15 lines?"""
    assert nb.cells[0].cell_type == "markdown"
    assert nb.cells[0].source.startswith("# Lab 01")
    for before, cell in zip(nb.cells, nb.cells[1:], strict=False):
        if cell.cell_type == "code":
            assert before.cell_type == "markdown", cell.source[:60]
            assert len([ln for ln in cell.source.splitlines() if ln.strip()]) <= 15


def test_prose_quotes_the_specs_budgets(nb):
    """Do the budgets the learner reads agree with the ones the grader applies?"""
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert f"{LAB.max_params:,} parameters" in text
    assert f"{LAB.max_flops // 1_000_000} million FLOPs" in text
    assert f"at most {LAB.max_time_ratio:g} times the reference" in text
    for cell in LAB.grade_cells:
        assert f"`{cell.grade_id}`" in text


@pytest.mark.slow
def test_solution_runs_quietly_and_its_export_gets_full_marks(tmp_path):
    """Does the source notebook run in FAST mode with no stderr, and does the architecture
    it exports earn every autograded point from the trusted scorer (public defaults)?"""
    from kerascourse.autograder import trusted
    from kerascourse.autograder.core.config import GraderConfig

    from kerascourse.runner import execute_notebook

    copy = tmp_path / LAB.notebook
    shutil.copy2(NOTEBOOK, copy)
    run = execute_notebook(copy, fast=True, offline=True, timeout=300)
    assert run.stderr == []
    text = run.text()
    assert "[FAILED]" not in text
    assert text.count("[ok]") >= 11  # every visible and hidden check printed its result
    exported = tmp_path / LAB.export_file
    assert exported.is_file()

    result = trusted.score_submission(LAB.lab_id, exported, GraderConfig())
    try:
        assert result.flags == []
        assert result.scores() == {c.grade_id: c.points for c in LAB.autograded}
        assert result.score == result.max_score == 9
        m = result.measurements
        assert m["params"] <= LAB.max_params
        assert m["flops"] <= LAB.max_flops
        assert m["accuracy"] >= 0.95, "the reference solution should pass with a margin"
        assert m["data"].startswith("public")
    finally:
        import keras

        if keras.backend.backend() == "tensorflow":
            from tensorflow.python.framework import config as tf_config

            tf_config.disable_op_determinism()
    print(f"\nnotebook {run.seconds:.1f} s; trusted scoring {result.seconds:.1f} s: {m}")
