"""Lab 00 (tune a regression model): its notebook against its spec, the prose quoting the
grader's budgets, the grader reading the learner's tuned optimizer safely, R² computed
right, and a class of two graded end to end on a local Dask cluster."""

from __future__ import annotations

import json

import numpy as np
import pytest
from kerascourse.autograder.checks import quality
from kerascourse.autograder.checks.quality import METRICS, submitted_optimizer
from support import labcase

WRONG_ARCHITECTURE = """def make_architecture():
    inputs = keras.Input(shape=(10,), name="features")
    x = layers.Dense(16, activation="relu")(inputs)
    outputs = layers.Dense(1, activation="sigmoid", name="prediction")(x)
    return keras.Model(inputs, outputs)
"""
CASE = labcase.Case(
    "lab00_tf_keras_foundations",
    "lab00",
    ("make_architecture", "build_model"),
    # sigmoid output misnamed 'prediction', never compiled: R² 0.32 < 0.40
    wrong={"make_architecture": WRONG_ARCHITECTURE,
           "build_model": "def build_model():\n    return make_architecture()\n"},
    wrong_lost=("q1_io_names_shapes", "q2_tuned", "q3_quality"),
    wrong_feedback=("the exported model was not compiled", "r2 0.32"),
    # The cheapest lab carries the cluster path (`kerascourse grade --dask`).
    dask=True,
)  # fmt: skip
LAB = CASE.lab
RATES = LAB.learning_rate_range


@pytest.fixture(scope="module")
def nb():
    return CASE.read()


# ----------------------------------------------------------------------- the notebook


class TestNotebook(labcase.NotebookTests):
    """The checks every lab's notebook passes (tests/support/labcase.py)."""

    CASE = CASE


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


@pytest.mark.slow
def test_a_class_of_two_is_graded_exactly(lab_course, tmp_path):
    """Do the solution and a wrong submission, graded by the workers of a local Dask
    cluster, get exactly full and the expected partial marks through generate, grade,
    feedback and export, with no hidden test line on any feedback page, the lab's metric in
    the class report, and no error or stderr in the solution's graded run?"""
    labcase.grade_a_class_of_two(CASE, lab_course, tmp_path / "submitted")
