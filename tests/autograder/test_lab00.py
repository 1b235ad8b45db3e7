"""Lab 00 (tune a regression model): its notebook matches the spec, the grader reads the
learner's tuned optimizer safely, R² is computed right, and a class of two is graded end to
end (generate, grade, feedback, export) with exact scores."""

from __future__ import annotations

import csv
import importlib.util
import json
import re
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from kerascourse.autograder import course as course_mod
from kerascourse.autograder import quality
from kerascourse.autograder.labspec import get_lab
from kerascourse.autograder.quality import METRICS, submitted_optimizer

ROOT = Path(__file__).resolve().parents[2]
LAB = get_lab("lab00_tf_keras_foundations")
NOTEBOOK = ROOT / "labs" / LAB.lab_id / LAB.notebook
RATES = LAB.learning_rate_range


@pytest.fixture(scope="module")
def nb():
    return nbformat.read(NOTEBOOK, as_version=4)


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


# ----------------------------------------------------------------------- the notebook


def test_grade_cells_match_the_lab_spec(nb):
    """Are the notebook's grade cells, their order and points exactly the lab spec's?"""
    cells = [(_meta(c)["grade_id"], _meta(c)["points"], c.cell_type) for c in nb.cells
             if _meta(c).get("grade")]  # fmt: skip
    expected = [(g.grade_id, g.points, "markdown" if g.manual else "code") for g in LAB.grade_cells]
    assert cells == expected


def test_test_cells_are_locked_and_run_the_specs_checks(nb):
    """Does each test cell run selfcheck.lab00 visibly, then hidden checks in the markers?"""
    for spec in LAB.autograded:
        (cell,) = [c for c in nb.cells if _meta(c).get("grade_id") == spec.grade_id]
        assert _meta(cell)["locked"] is True
        lines = cell.source.splitlines()
        assert lines[0] == f'selfcheck.lab00("{spec.grade_id}", model)'
        hidden = ["### BEGIN HIDDEN TESTS",
                  f'selfcheck.lab00("{spec.grade_id}", model, part="hidden")',
                  "### END HIDDEN TESTS"]  # fmt: skip
        assert lines[1:] == (hidden if spec.hidden else [])


def test_solutions_export_and_cell_hygiene(nb):
    """Are the solution regions marked, the export last and locked, and cells short with
    prose before each, outputs cleared?"""
    for gid in ("make_architecture", "build_model"):
        (cell,) = [c for c in nb.cells if _meta(c).get("grade_id") == gid]
        assert _meta(cell)["solution"] is True
        assert re.search(r"### BEGIN SOLUTION\n.+### END SOLUTION", cell.source, re.DOTALL)
    last = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert _meta(last)["grade_id"] == "export_model"
    assert _meta(last)["locked"] is True
    assert "model.to_json()" in last.source
    for before, cell in zip(nb.cells, nb.cells[1:], strict=False):
        if cell.cell_type == "code":
            assert before.cell_type == "markdown", cell.source[:60]
            assert len([ln for ln in cell.source.splitlines() if ln.strip()]) <= 15
            assert not cell.outputs
            assert cell.execution_count is None


def test_prose_quotes_the_specs_budgets_and_recipe(nb):
    """Do the budgets and the recipe the learner reads agree with what the grader applies?"""
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert f"{LAB.max_params:,} parameters" in text
    assert f"at most {LAB.max_flops:,} per example" in text
    assert f"at most {LAB.max_time_ratio:g} times" in " ".join(text.split())
    assert f"{LAB.recipe.epochs} epochs with batch size {LAB.recipe.batch_size}" in text
    assert f"public {LAB.quality_threshold:.2f}" in text
    assert f"between {RATES[0]:g} and {RATES[1]:g}" in text
    for name in LAB.tuned_optimizers:
        assert f"`{name}`" in text
    for cell in LAB.grade_cells:
        assert f"`{cell.grade_id}`" in text


# ----------------------------------------------------------------------- grading pieces


def _export(compile_config) -> str:
    """A minimal model JSON with the given compile_config (None: not compiled)."""
    node = {"class_name": "Functional", "config": {}}
    if compile_config is not None:
        node["compile_config"] = compile_config
    return json.dumps(node)


def _adam(rate) -> dict:
    return {"optimizer": {"class_name": "Adam", "config": {"learning_rate": rate}}, "loss": "mse"}


def test_tuned_optimizer_is_read_as_class_and_rate_only():
    """Does a compiled export give exactly the optimizer class and learning rate, nothing else?"""
    cfg = _adam(0.01)
    cfg["optimizer"]["config"].update(clipnorm=5.0, weight_decay=0.3)
    result, chosen = submitted_optimizer(_export(cfg), LAB.tuned_optimizers, RATES)
    assert result.passed
    assert chosen == {"class_name": "Adam", "config": {"learning_rate": 0.01}}


@pytest.mark.parametrize(
    ("compile_config", "measured", "fix"),
    [
        (None, "was not compiled", "Compile the model inside build_model()"),
        (_adam(0.9), "learning rate 0.9", "between 0.0001 and 0.3"),
        (_adam({"class_name": "ExponentialDecay", "config": {}}), "a schedule", "schedules"),
        (_adam(True), "a schedule or no number", "plain learning rate"),
        ({"optimizer": {"class_name": "Adafactor", "config": {"learning_rate": 0.01}}},
         "'Adafactor'", "Use one of the built-in optimizers"),
        ({"optimizer": "adam"}, "was not compiled", "Compile the model"),
    ],
)  # fmt: skip
def test_bad_tuned_optimizer_fails_with_the_fix(compile_config, measured, fix):
    """Is an uncompiled model, a rate out of range, a schedule or an unlisted optimizer
    refused with what was found and what to change (and no optimizer chosen)?"""
    result, chosen = submitted_optimizer(_export(compile_config), LAB.tuned_optimizers, RATES)
    assert not result.passed
    assert chosen is None
    assert measured in result.measured
    assert fix in result.message()


def test_r2_matches_scikit_learn():
    """Is the grader's R² the textbook one (scikit-learn's r2_score) on a real prediction?"""
    from sklearn.metrics import r2_score

    rng = np.random.default_rng(0)
    y = rng.normal(size=(50, 1))
    pred = 0.7 * y + 0.3 * rng.normal(size=(50, 1))

    r2, higher_is_better = METRICS["r2"]
    original = quality.predict_numpy
    quality.predict_numpy = lambda model, x, batch_size=256, output=None: pred
    try:
        got = r2(None, np.zeros((50, 10), "float32"), y)
    finally:
        quality.predict_numpy = original
    assert higher_is_better
    assert got == pytest.approx(r2_score(y, pred), abs=1e-9)


# ----------------------------------------------------------------------- end to end


def _pipeline_helpers():
    """The cell factories of test_pipeline.py (test modules are not a package)."""
    path = Path(__file__).with_name("test_pipeline.py")
    spec = importlib.util.spec_from_file_location("kc_grading_helpers", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


WRONG = '''def make_architecture():
    inputs = keras.Input(shape=(10,), name="features")
    x = layers.Dense(16, activation="relu")(inputs)
    outputs = layers.Dense(1, activation="sigmoid", name="prediction")(x)
    return keras.Model(inputs, outputs)
'''
UNCOMPILED = '''def build_model():
    return make_architecture()
'''
ANSWER = "Fitting on all rows leaks the test rows' statistics into training, so the test score is optimistic."
POINTS = {c.grade_id: float(c.points) for c in LAB.autograded}
EXPECTED = {
    "tuned": ("graded", 8.0, POINTS),
    # misnamed output, sigmoid output (R² 0.32 < 0.40), never compiled: 3 / 8
    "wrong": ("graded", 3.0, {**POINTS, "q1_io_names_shapes": 0.0, "q2_tuned": 0.0,
                              "q3_quality": 0.0}),
}  # fmt: skip


@pytest.mark.slow
def test_a_class_of_two_is_graded_exactly(tmp_path):
    """Do the solution and a wrong submission get exactly 8/8 and 3/8 through generate,
    grade, feedback and export, with no hidden test line on any feedback page?"""
    from kerascourse.autograder.feedback import feedback_path, hidden_lines, leaked_lines
    from kerascourse.autograder.pipeline import GradeOptions, grade_lab, prepare_course

    h = _pipeline_helpers()
    course = tmp_path / "course"
    course_mod.setup_course(course, ROOT / "labs")
    release = nbformat.read(prepare_course(course, LAB.lab_id), as_version=4)
    assert "BEGIN SOLUTION" not in json.dumps(release)
    solution = {gid: "\n".join(ln for ln in h.find(nbformat.read(NOTEBOOK, as_version=4), gid)
                               .source.splitlines() if "### " not in ln)
                for gid in ("make_architecture", "build_model")}  # fmt: skip
    notebooks = {"tuned": h.student(release, build=solution["build_model"], answer=ANSWER),
                 "wrong": h.student(release, build=UNCOMPILED, answer=ANSWER)}  # fmt: skip
    h.find(notebooks["tuned"], "make_architecture").source = solution["make_architecture"]
    h.find(notebooks["wrong"], "make_architecture").source = WRONG
    for sid, student_nb in notebooks.items():
        h.write(student_nb, course / "submitted" / sid / LAB.lab_id / LAB.notebook)

    options = GradeOptions(jobs=2, timeout=600, progress=False)
    report = grade_lab(LAB.lab_id, course / "submitted", course, options)

    for sid, (status, total, cells) in EXPECTED.items():
        rec = report.record(sid)
        assert rec["status"] == status, (sid, rec.get("reason"))
        assert h.cell_scores(rec) == cells, sid
        assert rec["score"] == total
    hidden = hidden_lines(NOTEBOOK)
    assert hidden
    for sid in EXPECTED:
        page = feedback_path(course, LAB.lab_id, sid).read_text()
        assert leaked_lines(page, hidden) == [], sid
        assert "Score from the grader" in page
    wrong_page = feedback_path(course, LAB.lab_id, "wrong").read_text()
    assert "the exported model was not compiled" in wrong_page
    assert "r2 0.32" in wrong_page
    rows = {r["student_id"]: r for r in csv.DictReader(report.csv_path.open())}
    assert {sid: float(rows[sid]["raw_score"]) for sid in rows} == {"tuned": 8.0, "wrong": 3.0}
    assert ">r2<" in report.report_path.read_text()
