"""Budget checks: exact FLOPs and parameters, epoch-time ratios, peak memory."""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest
from kerascourse.autograder import BudgetExceededError, GraderBugError
from kerascourse.autograder.checks.flops import check_flops, count_flops, flops_by_layer
from kerascourse.autograder.checks.memory import check_peak_memory, measure_peak_rss
from kerascourse.autograder.checks.params import check_params
from kerascourse.autograder.checks.timing import check_time_ratio, epoch_times, steady_state


def _model(shape, *layers, name="m"):
    inputs = keras.Input(shape, name="x")
    x = inputs
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, x, name=name)


def test_dense_flops_equal_the_hand_formula():
    """Is Dense(7, relu) on 20 features 2*20*7 multiply-adds + 7 bias adds + 7 activations?"""
    model = _model((20,), keras.layers.Dense(7, activation="relu", name="d"))
    assert count_flops(model) == 2 * 20 * 7 + 7 + 7


def test_dense_without_bias_or_activation_is_only_multiply_adds():
    """Is a linear Dense without bias exactly 2 * inputs * units?"""
    model = _model((20,), keras.layers.Dense(7, use_bias=False, name="d"))
    assert count_flops(model) == 2 * 20 * 7


def test_conv2d_flops_equal_the_hand_formula():
    """Is Conv2D(4, 3x3) on 8x8x3 (valid) 2*(3*3*3)*(6*6*4) + a bias add per output?"""
    model = _model((8, 8, 3), keras.layers.Conv2D(4, 3, name="c"))
    outputs = 6 * 6 * 4
    assert count_flops(model) == 2 * (3 * 3 * 3) * outputs + outputs


def test_strided_same_conv2d_uses_the_output_size():
    """Does a strided 'same' Conv2D count the 4x4 output positions, not 8x8?"""
    model = _model((8, 8, 3), keras.layers.Conv2D(4, 3, strides=2, padding="same", name="c"))
    outputs = 4 * 4 * 4
    assert count_flops(model) == 2 * 27 * outputs + outputs


def test_separable_conv_is_depthwise_plus_pointwise():
    """Is SeparableConv2D the depthwise window plus the 1x1 pointwise product plus bias?"""
    model = _model((6, 6, 2), keras.layers.SeparableConv2D(5, 3, name="s"))
    positions = 4 * 4
    expected = 2 * (9 * positions * 2 + positions * 2 * 5) + positions * 5
    assert count_flops(model) == expected


def test_pooling_and_batchnorm_follow_the_convention():
    """Is MaxPooling one compare per window element and BatchNorm 2 per element?"""
    model = _model(
        (4, 4, 2),
        keras.layers.BatchNormalization(name="bn"),
        keras.layers.MaxPooling2D(2, name="p"),
    )
    assert flops_by_layer(model) == {"bn": 2 * 32, "p": 4 * (2 * 2 * 2)}


def test_lstm_flops_follow_the_per_timestep_formula():
    """Is an LSTM T * (8u(F+u) + 17u) for T steps, F features and u units?"""
    model = _model((5, 3), keras.layers.LSTM(4, name="lstm"))
    assert count_flops(model) == 5 * (8 * 4 * (3 + 4) + 17 * 4)


def test_embedding_and_flatten_cost_nothing():
    """Are lookups and reshapes free?"""
    model = _model((6,), keras.layers.Embedding(50, 4, name="e"), keras.layers.Flatten(name="f"))
    assert count_flops(model) == 0


def test_sequential_model_flops_equal_the_functional_ones():
    """Does a Sequential model count the same FLOPs as the same layers in a functional model?"""

    def layers():
        return [keras.layers.Conv2D(2, 3, name="c"), keras.layers.Flatten(), keras.layers.Dense(3)]

    seq = keras.Sequential([keras.Input((6, 6, 1)), *layers()])
    assert count_flops(seq) == count_flops(_model((6, 6, 1), *layers()))


def test_nested_model_flops_equal_the_sum_of_parts():
    """Are a nested model's FLOPs counted through its layers, and the total the sum of parts?"""
    inner = keras.Sequential(
        [
            keras.Input((16,)),
            keras.layers.Dense(8, activation="relu", name="a"),
            keras.layers.Dense(4, name="b"),
        ],
        name="block",
    )
    head = _model((4,), keras.layers.Dense(2, name="head"), name="head_only")
    inputs = keras.Input((16,), name="x")
    outer = keras.Model(inputs, keras.layers.Dense(2, name="head")(inner(inputs)))
    assert count_flops(outer) == count_flops(inner) + count_flops(head)
    assert set(flops_by_layer(outer)) == {"block/a", "block/b", "head"}


def test_shared_nested_model_counts_once_per_call():
    """Is a nested model called twice counted twice?"""
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="a")], name="block")
    inputs = keras.Input((4,), name="x")
    outer = keras.Model(inputs, keras.layers.Concatenate()([inner(inputs), inner(inputs)]))
    assert count_flops(outer) == 2 * count_flops(inner)


def test_unknown_layer_is_our_bug_and_named():
    """Does a layer without a formula raise GraderBugError naming its class?"""
    a = keras.Input((3,), name="a")
    b = keras.Input((3,), name="b")
    model = keras.Model([a, b], keras.layers.Dot(axes=1, name="dot")([a, b]))
    with pytest.raises(GraderBugError, match=re.escape("no FLOPs formula for layer class 'Dot'")):
        count_flops(model)
    assert count_flops(model, zero_cost=["Dot"]) == 0


def test_param_budget_message_names_the_biggest_layer():
    """Does the parameter budget say measured, allowed and which layer holds most of them?"""
    model = _model(
        (28, 28, 1),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(512, activation="relu", name="dense"),
        keras.layers.Dense(10, name="out"),
    )
    with pytest.raises(
        BudgetExceededError,
        match=re.escape("The Dense(512) 'dense' after Flatten holds 401,920 of them"),
    ) as info:
        check_params(model, 250_000)
    assert info.value.result.measured == "407,050 parameters"
    assert info.value.result.allowed == "at most 250,000"


def test_flops_budget_names_the_costliest_layer():
    """Does the FLOPs budget name the layer with most FLOPs and its input size?"""
    model = _model(
        (28, 28, 1), keras.layers.Conv2D(16, 3, name="conv"), keras.layers.Flatten(name="f")
    )
    with pytest.raises(
        BudgetExceededError, match=re.escape("The Conv2D(16) 'conv' on 28x28 inputs costs 100%")
    ):
        check_flops(model, 1_000)


def test_flops_within_budget_pass():
    """Does a model under its FLOPs budget pass with the count in details?"""
    model = _model((20,), keras.layers.Dense(7, name="d"))
    result = check_flops(model, 10_000)
    assert result.passed
    assert result.details["flops"] == 2 * 20 * 7 + 7


def test_steady_state_ignores_the_first_epoch():
    """Is the steady state the median of the epochs after the first?"""
    assert steady_state([10.0, 1.0, 3.0, 2.0]) == 2.0


def test_steady_state_needs_two_epochs():
    """Is timing a single epoch refused (it would be all tracing)?"""
    with pytest.raises(GraderBugError, match=re.escape("Time at least 2 epochs")):
        steady_state([1.0])


def test_time_ratio_within_budget_passes():
    """Does a 2.0x ratio pass a 2.5x budget?"""
    result = check_time_ratio([9.0, 1.0, 1.0, 1.0], [3.0, 0.5, 0.5, 0.5], max_ratio=2.5)
    assert result.passed
    assert result.details["ratio"] == pytest.approx(2.0)


def test_time_ratio_over_budget_says_measured_and_allowed():
    """Does a 3.2x ratio fail a 2.5x budget with both epoch times in the message?"""
    with pytest.raises(BudgetExceededError, match=re.escape("Make the model cheaper")) as info:
        check_time_ratio([5.0, 0.832, 0.832], [2.0, 0.26, 0.26], max_ratio=2.5)
    assert "a steady-state epoch takes 0.83 s, 3.2x the reference model's 0.26 s" in str(info.value)
    assert "allowed: at most 2.5x the reference" in str(info.value)


def test_time_ratio_advice_names_the_costliest_layer():
    """Given the model, does the advice name the layer that costs most of the FLOPs?"""
    model = _model(
        (28, 28, 1), keras.layers.Conv2D(8, 3, name="conv"), keras.layers.Flatten(name="f")
    )
    with pytest.raises(
        BudgetExceededError,
        match=re.escape("pool earlier (e.g. MaxPooling2D before it) or use fewer filters"),
    ):
        check_time_ratio([1.0, 3.0, 3.0], [1.0, 1.0, 1.0], max_ratio=2.5, model=model)


def test_absolute_cap_applies_on_top_of_the_ratio():
    """Does an absolute cap fail a model whose ratio is fine?"""
    with pytest.raises(BudgetExceededError, match=re.escape("at most 1 s")):
        check_time_ratio([9.0, 2.0, 2.0], [9.0, 2.0, 2.0], max_ratio=2.5, abs_cap_s=1.0)


def test_epoch_times_returns_one_time_per_epoch():
    """Does epoch_times record one positive wall time per epoch?"""
    model = _model((4,), keras.layers.Dense(2, name="d"))
    model.compile(optimizer="sgd", loss="mse")
    x = np.zeros((16, 4), dtype="float32")
    y = np.zeros((16, 2), dtype="float32")
    times = epoch_times(model, x, y, epochs=3, batch_size=8, seed=0)
    assert len(times) == 3
    assert all(t > 0 for t in times)


def test_epoch_times_needs_a_compiled_model():
    """Is timing an uncompiled model refused with the fix?"""
    model = _model((4,), keras.layers.Dense(2, name="d"))
    with pytest.raises(GraderBugError, match=re.escape("Call model.compile(...) first")):
        epoch_times(model, np.zeros((4, 4)), np.zeros((4, 2)), epochs=2, batch_size=2, seed=0)


def test_peak_rss_sees_an_allocation():
    """Does measure_peak_rss see a 64 MiB array allocated and filled inside fn?"""
    pytest.importorskip("psutil")
    grew = measure_peak_rss(lambda: np.ones(64 * 2**20 // 8))
    assert grew >= 48 * 2**20


def test_peak_memory_over_limit_fails_with_advice():
    """Does a peak over the limit fail with both sizes and what to reduce?"""
    with pytest.raises(BudgetExceededError, match=re.escape("use a smaller batch_size")) as info:
        check_peak_memory(300 * 2**20, 100 * 2**20)
    assert "grew by 300.0 MiB; allowed: at most 100.0 MiB" in str(info.value)
