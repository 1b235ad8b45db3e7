"""Lab 03: its notebook against its spec, the grading parts (the plain twin, the block
checks, depth and the degradation rule), and a class of two graded end to end.

The parts are pinned down on small models so that a wrong twin or a wrong block count fails
here with a readable diff, not only as a lost point in the end-to-end test.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from keras import layers
from kerascourse.autograder.checks.blocks import check_blocks, check_degradation, check_depth
from kerascourse.autograder.checks.twin import TwinError, plain_twin, weighted_depth
from kerascourse.autograder.core.results import ArchitectureError
from kerascourse.autograder.labs.lab03_residual_inception import SPEC as LAB03
from kerascourse.autograder.labs.lab03_residual_inception import lab03_conv_bn
from support import labcase

WRONG_BLOCK = """def residual_block(x, filters, name, strides=1):
    y = conv_bn(x, filters, 3, f"{name}_a", strides=strides)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_b_conv")(y)
    y = layers.BatchNormalization(name=f"{name}_b_bn")(y)
    return layers.Activation("relu", name=f"{name}_out")(y)
"""
CASE = labcase.Case(
    "lab03_residual_inception",
    "lab03",
    ("inception_block", "residual_block"),
    # the shortcut forgotten: a plain block; the inception block is right
    wrong={"residual_block": WRONG_BLOCK},
    wrong_lost=("q2_residual_block", "q3_degradation"),
    wrong_feedback=("no Add layer", "no plain twin can be made"),
)


# ----------------------------------------------------------------------- the notebook


class TestNotebook(labcase.NotebookTests):
    """The checks every lab's notebook passes (tests/support/labcase.py)."""

    CASE = CASE


@pytest.fixture(scope="module")
def reference():
    return LAB03.reference_model()


def _bn(channels: int) -> int:
    return 4 * channels  # gamma, beta, moving mean, moving variance


def test_block_specs_are_the_reference_solutions_numbers(reference):
    """Do the spec's block parameters match the formula and the reference model?"""
    conv = lambda k, c_in, c_out: k * k * c_in * c_out  # no bias: BN follows
    identity16 = conv(3, 16, 16) * 2 + _bn(16) * 2
    projection = conv(3, 16, 32) + conv(3, 32, 32) + _bn(32) * 2 + conv(1, 16, 32) + _bn(32)
    identity32 = conv(3, 32, 32) * 2 + _bn(32) * 2
    towers = [(1, 8, 4), (1, 8, 4), (3, 4, 8), (1, 8, 2), (5, 2, 2), (1, 8, 2)]
    inception = sum(conv(k, i, o) + _bn(o) for k, i, o in towers)
    expected = {"inception": inception, "res1": identity16, "res5": projection, "res8": identity32}
    specs = {b.name: b.params for b in LAB03.blocks}
    assert {name: specs[name] for name in expected} == expected
    for block in LAB03.blocks:
        mine = [la for la in reference.layers if la.name.startswith(block.name + "_")]
        assert sum(la.count_params() for la in mine) == block.params, block.name
    assert check_blocks(reference, LAB03.blocks, "blocks").passed


def test_plain_twin_drops_every_add_and_only_the_projection(reference):
    """Does the twin lose the 8 Adds and res5's projection, and keep every other layer?"""
    twin_json, removed = plain_twin(reference.to_json())
    adds = [f"res{i}_add" for i in range(1, 9)]
    assert removed == [*adds, "res5_proj_bn", "res5_proj_conv"]  # pruned from the Add outwards
    twin = keras.models.model_from_json(twin_json)
    assert not [la for la in twin.layers if isinstance(la, layers.Add)]
    assert reference.count_params() - twin.count_params() == 16 * 32 + _bn(32)
    kept = {la.name for la in reference.layers} - set(removed)
    assert {la.name for la in twin.layers} == kept
    depth = lambda m: max(weighted_depth(json.loads(m.to_json())).values())
    assert depth(twin) == depth(reference) == 20
    # the main branch is what each block's ReLU now reads
    assert twin.get_layer("res1_out").input.name == twin.get_layer("res1_b_bn").output.name
    x = np.zeros((2, 28, 28, 1), "float32")
    assert np.asarray(twin(x)).shape == (2, 10)


def test_a_net_without_shortcut_has_no_twin():
    inputs = keras.Input(shape=(8, 8, 1))
    x = lab03_conv_bn(inputs, 4, 3, "a")
    model = keras.Model(inputs, layers.Dense(2)(layers.Flatten()(x)))
    with pytest.raises(TwinError, match="no Add layer"):
        plain_twin(model.to_json())


def test_an_add_of_two_equally_deep_branches_is_refused():
    inputs = keras.Input(shape=(4,))
    a, b = layers.Dense(3, name="a")(inputs), layers.Dense(3, name="b")(inputs)
    model = keras.Model(inputs, layers.add([a, b], name="join"))
    with pytest.raises(TwinError, match="equal depth"):
        plain_twin(model.to_json())


def _small_net(residual_block):
    inputs = keras.Input(shape=(14, 14, 16))
    return keras.Model(inputs, residual_block(inputs, 16, name="res1"))


def test_a_misnamed_block_is_told_the_naming_rule():
    def unnamed(x, filters, name, strides=1):
        y = layers.Conv2D(filters, 3, padding="same")(x)
        return layers.add([y, x])

    with pytest.raises(ArchitectureError) as err:
        check_blocks(_small_net(unnamed), LAB03.blocks[1:2], "residual_blocks")
    text = err.value.result.message()
    assert "no layer named 'res1_out'" in text
    assert "{name}_out" in text


def test_a_block_with_a_bias_reports_both_counts():
    def biased(x, filters, name, strides=1):
        y = layers.Conv2D(filters, 3, padding="same", name=f"{name}_a")(x)
        y = layers.Conv2D(filters, 3, padding="same", name=f"{name}_b")(y)
        y = layers.add([y, x], name=f"{name}_add")
        return layers.Activation("relu", name=f"{name}_out")(y)

    with pytest.raises(ArchitectureError) as err:
        check_blocks(_small_net(biased), LAB03.blocks[1:2], "residual_blocks")
    assert "4,640 parameters, expected 4,736" in err.value.result.message()


def test_depth_counts_weighted_layers_only():
    assert check_depth(20, 20).passed
    with pytest.raises(ArchitectureError, match="12 weighted layers"):
        check_depth(12, 20)


@pytest.mark.parametrize(
    ("final", "twin_final", "passes"), [(0.2, 0.9, True), (0.45, 0.9, True), (0.46, 0.9, False)]
)
def test_degradation_passes_at_half_the_twins_loss(final, twin_final, passes):
    if passes:
        result = check_degradation([1.0, final], [1.0, twin_final], 0.5, 2)
        assert result.details["ratio"] == round(final / twin_final, 4)
    else:
        with pytest.raises(ArchitectureError, match="shortcuts do not help"):
            check_degradation([1.0, final], [1.0, twin_final], 0.5, 2)


# ----------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_a_class_of_two_is_graded_exactly(lab_course, tmp_path):
    """Do the solution and a wrong submission get exactly full and the expected partial
    marks through generate, grade, feedback and export, with no hidden test line on any
    feedback page, the lab's metric in the class report, and no error or stderr in the
    solution's graded run?"""
    labcase.grade_a_class_of_two(CASE, lab_course, tmp_path / "submitted")
