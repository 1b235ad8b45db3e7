"""Lab 02 (a siamese model): its notebook against its spec, the grader's pairs balanced,
correct and seeded, the prose quoting the grader's recipe and budgets, an encoder that is
not shared named as such, and a class of two graded end to end."""

from __future__ import annotations

import numpy as np
import pytest
from kerascourse.autograder.labs.lab02_multi_io_models import digit_pairs
from support import labcase

from kerascourse import datasets

WRONG_MODEL = """def build_model():
    left = keras.Input(shape=(28, 28, 1), name="left")
    right = keras.Input(shape=(28, 28, 1), name="right")
    a = layers.GlobalAveragePooling2D()(layers.Conv2D(8, 3, activation="relu")(left))
    b = layers.GlobalAveragePooling2D()(layers.Conv2D(8, 3, activation="relu")(right))
    hidden = layers.Dense(16, activation="relu")(layers.concatenate([a, b]))
    same = layers.Dense(1, activation="sigmoid", name="same")(hidden)
    digit = layers.Dense(10, activation="softmax", name="left_digit")(a)
    return keras.Model({"left": left, "right": right}, {"same": same, "left_digit": digit})
"""
CASE = labcase.Case(
    "lab02_multi_io_models",
    "lab02",
    ("build_encoder", "build_model"),
    # one small encoder per image (nothing shared): a same/different guess near chance
    wrong={"build_model": WRONG_MODEL},
    wrong_lost=("q1_shared_encoder", "q3_quality"),
    wrong_feedback=("no layer named 'encoder'",),
)
LAB = CASE.lab


# ----------------------------------------------------------------------- the notebook


class TestNotebook(labcase.NotebookTests):
    """The checks every lab's notebook passes (tests/support/labcase.py)."""

    CASE = CASE


@pytest.fixture(scope="module")
def digits():
    data = datasets.load("digits28")
    return data.x_test, data.y_test


def test_pairs_are_balanced_and_labelled_right(digits):
    """Are about half the pairs 'same', and do both targets agree with the true labels?"""
    x, y = digits
    inputs, targets = digit_pairs(x, y, 1_000, seed=7)
    assert set(inputs) == set(LAB.inputs)
    assert set(targets) == set(LAB.outputs)
    assert inputs["left"].shape == inputs["right"].shape == (1_000, 28, 28, 1)
    assert 0.45 < targets["same"].mean() < 0.55
    lookup = {img.tobytes(): label for img, label in zip(x, y, strict=True)}
    left = np.array([lookup[img.tobytes()] for img in inputs["left"]])
    right = np.array([lookup[img.tobytes()] for img in inputs["right"]])
    np.testing.assert_array_equal(left, targets["left_digit"])
    np.testing.assert_array_equal((left == right).astype("float32"), targets["same"][:, 0])


def test_pairs_follow_the_seed(digits):
    """Does the same seed give the same pairs, and another seed (a private one) others?"""
    x, y = digits
    a, _ = digit_pairs(x, y, 200, seed=1)
    b, _ = digit_pairs(x, y, 200, seed=1)
    c, _ = digit_pairs(x, y, 200, seed=2)
    np.testing.assert_array_equal(a["left"], b["left"])
    assert not np.array_equal(a["left"], c["left"])


def test_grader_data_differs_with_the_private_seed():
    """Does the grader's public data depend on its seed (so a private seed hides the pairs)?"""
    _, y1, _, _ = LAB.public_data(42)
    _, y2, _, _ = LAB.public_data(918273)
    assert len(y1["same"]) == 2_000
    assert not np.array_equal(y1["left_digit"], y2["left_digit"])


def test_prose_quotes_the_specs_budgets_and_recipe():
    """Do the budgets and the recipe the learner reads agree with what the grader applies?"""
    nb = CASE.read()
    text = " ".join(" ".join(c.source for c in nb.cells if c.cell_type == "markdown").split())
    recipe = LAB.recipe
    assert f"{LAB.max_params:,} parameters" in text
    assert f"{LAB.max_flops // 1_000_000} million FLOPs" in text
    assert f"at most {LAB.max_time_ratio:g} times the reference" in text
    assert f"public {LAB.quality_threshold:.2f}" in text
    assert f"learning rate {recipe.learning_rate:g}, batch size {recipe.batch_size}" in text
    assert f"{recipe.epochs} epochs" in text
    assert f"`same` with weight {recipe.loss_weights['same']:g}" in text
    assert f"`left_digit` with weight {recipe.loss_weights['left_digit']:g}" in text


def test_two_separate_encoders_are_named_as_not_shared():
    """Is a model with one encoder per image refused by the shared-encoder check, naming the
    layers it does have?"""
    import keras
    from kerascourse.autograder.checks.architecture import check_shared_layer
    from kerascourse.autograder.core.results import ArchitectureError

    def encoder(name):
        image = keras.Input(shape=(28, 28, 1))
        x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(image))
        return keras.Model(image, x, name=name)

    left = keras.Input(shape=(28, 28, 1), name="left")
    right = keras.Input(shape=(28, 28, 1), name="right")
    joined = keras.layers.concatenate([encoder("encoder")(left), encoder("enc_b")(right)])
    model = keras.Model([left, right], keras.layers.Dense(1, name="same")(joined))
    with pytest.raises(ArchitectureError, match="called 1 time") as info:
        check_shared_layer(model, "encoder")
    assert "call that same object on each input" in str(info.value.result.advice)


def test_a_private_data_file_is_refused_with_the_fix(tmp_path):
    """Is a private .npz for this two-input lab refused when the config is merged for it?"""
    from kerascourse.autograder.core.config import GraderConfig, GraderConfigError
    from kerascourse.autograder.trusted import Scorer

    npz = tmp_path / "heldout.npz"
    np.savez(npz, x_train=np.zeros(1), y_train=np.zeros(1), x_test=np.zeros(1), y_test=np.zeros(1))
    config = GraderConfig(data=str(npz), data_sha256="0" * 64)
    with pytest.raises(GraderConfigError, match="set a private 'seed' instead"):
        config.for_lab(LAB.lab_id)  # where `kerascourse grade` checks, before any work
    with pytest.raises(GraderConfigError, match="set a private 'seed' instead"):
        _ = Scorer(LAB, config).data
    assert config.for_lab("lab01_functional_api").data == str(npz)  # one input: accepted


# ----------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_a_class_of_two_is_graded_exactly(lab_course, tmp_path):
    """Do the solution and a wrong submission get exactly full and the expected partial
    marks through generate, grade, feedback and export, with no hidden test line on any
    feedback page, the lab's metric in the class report, and no error or stderr in the
    solution's graded run?"""
    labcase.grade_a_class_of_two(CASE, lab_course, tmp_path / "submitted")
