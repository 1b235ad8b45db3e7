"""Lab 05: its notebook against its spec, the grading parts (pretrained weights loaded by
name, frozen layers, the recipe's data), and a class of two graded end to end."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers
from kerascourse.autograder.checks.architecture import check_frozen
from kerascourse.autograder.checks.quality import rebuild_model
from kerascourse.autograder.core.results import ArchitectureError
from kerascourse.autograder.labs.lab05_transfer_learning import (
    FROZEN,
    SPEC,
    load_pretrained_weights,
)
from support import labcase

from kerascourse import datasets

WRONG_MODEL = """def build_model():
    base = datasets.pretrained_base()
    base.trainable = False
    inputs = keras.Input(shape=(28, 28, 1), name="image")
    x = base(inputs, training=False)
    outputs = layers.Dense(10, activation="softmax", name="letter")(x)
    return keras.Model(inputs, outputs, name="features_only")
"""
CASE = labcase.Case(
    "lab05_transfer_learning",
    "lab05",
    ("build_model",),
    # the whole base frozen, no augmentation: feature extraction only, accuracy 0.74
    wrong={"build_model": WRONG_MODEL},
    wrong_lost=("q3_quality",),
    wrong_feedback=("accuracy 0.7425",),
)


# ----------------------------------------------------------------------- the notebook


class TestNotebook(labcase.NotebookTests):
    """The checks every lab's notebook passes (tests/support/labcase.py)."""

    CASE = CASE


@pytest.fixture(scope="module")
def rebuilt():
    """The reference solution as the grader sees it: rebuilt from JSON, no weights."""
    return rebuild_model(SPEC.reference_model().to_json())


def test_frozen_flags_survive_the_export(rebuilt):
    """Does the JSON carry trainable=False for exactly the frozen layers?"""
    base = rebuilt.get_layer("digits_base")
    frozen = sorted(layer.name for layer in base.layers if not layer.trainable)
    assert frozen == sorted(FROZEN)
    assert check_frozen(rebuilt, FROZEN).passed


def test_the_grader_loads_the_bundled_weights_by_name(rebuilt):
    """Are the rebuilt base's weights, random before, the bundled ones after?"""
    pretrained = datasets.pretrained_base().get_layer("block3_conv").get_weights()[0]
    before = rebuilt.get_layer("digits_base").get_layer("block3_conv").get_weights()[0]
    assert not np.allclose(before, pretrained)
    result = load_pretrained_weights(rebuilt)
    after = rebuilt.get_layer("digits_base").get_layer("block3_conv").get_weights()[0]
    np.testing.assert_array_equal(after, pretrained)
    assert "block1_conv" in result.measured


def test_a_rebuilt_base_with_other_widths_is_refused_with_the_fix():
    inputs = keras.Input(shape=(28, 28, 1), name="image")
    x = layers.Conv2D(16, 3, use_bias=False, name="block1_conv")(inputs)
    outputs = layers.Dense(10, activation="softmax", name="letter")(layers.Flatten()(x))
    with pytest.raises(ArchitectureError) as err:
        load_pretrained_weights(keras.Model(inputs, outputs))
    text = err.value.result.message()
    assert "layer 'block1_conv' has weights [(3, 3, 1, 16)], the base's are [(3, 3, 1, 32)]" in text
    assert "datasets.pretrained_base()" in text


def test_an_unfrozen_block_is_named():
    base = datasets.pretrained_base()
    base.get_layer("block1_conv").trainable = False
    with pytest.raises(ArchitectureError) as err:
        check_frozen(base, FROZEN)
    text = err.value.result.message()
    assert "['block1_bn', 'block2_conv', 'block2_bn'] still trainable" in text


def test_the_public_grader_data_is_the_letters_split():
    x_train, y_train, x_test, _y_test = SPEC.public_data(0)
    assert x_train.shape == (600, 28, 28, 1)
    assert x_test.shape == (400, 28, 28, 1)
    assert np.bincount(y_train).tolist() == [60] * 10


# ----------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_a_class_of_two_is_graded_exactly(lab_course, tmp_path):
    """Do the solution and a wrong submission get exactly full and the expected partial
    marks through generate, grade, feedback and export, with no hidden test line on any
    feedback page, the lab's metric in the class report, and no error or stderr in the
    solution's graded run?"""
    labcase.grade_a_class_of_two(CASE, lab_course, tmp_path / "submitted")
