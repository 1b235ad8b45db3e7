"""FilterExplorer: raw kernels, activation maximisation, its cache, and bad input."""

from __future__ import annotations

import re

import numpy as np
import pytest
from kerascourse.widgets import (
    FilterExplorer,
    conv_kernels,
    conv_layer_names,
    extract_activations,
    maximize_activation,
    plot_filters,
)
from kerascourse.widgets import filters as filters_module
from kerascourse.widgets._render import decode_png, figure_pixels

FAST = {"steps": 8}


def test_conv_layers_are_found_in_order(cnn, nested):
    """Are the Conv2D layers listed, nested ones as 'outer/inner'?"""
    assert conv_layer_names(cnn) == ["conv1", "conv2"]
    assert conv_layer_names(nested) == ["stem", "block/inner_conv"]


def test_conv_kernels_are_the_layer_weights(cnn):
    """Does conv_kernels return the kernel array (h, w, in, filters) of the layer?"""
    k = conv_kernels(cnn, "conv2")
    assert k.shape == (3, 3, 4, 8)
    np.testing.assert_array_equal(k, cnn.get_layer("conv2").get_weights()[0])
    assert conv_kernels(cnn).shape == (3, 3, 1, 4)  # default: the first conv layer


def test_non_conv_layer_names_the_conv_layers(cnn):
    """Does asking for a Dense layer name the Conv2D layers instead?"""
    with pytest.raises(ValueError, match=re.escape(
        "FilterExplorer shows convolution kernels, but layer 'hidden' of model 'cnn' is a Dense "
        "layer. Conv2D layers in this model: ['conv1', 'conv2']. Received: layer='hidden'."
    )):  # fmt: skip
        FilterExplorer(cnn, layer="hidden", **FAST)


def test_model_without_conv_layers_points_to_the_other_explorers(mlp):
    """Does an MLP get a message that suggests ActivationExplorer / EmbeddingExplorer?"""
    with pytest.raises(
        ValueError,
        match=re.escape("has no Conv2D layers. Use ActivationExplorer or EmbeddingExplorer"),
    ):
        FilterExplorer(mlp)


def test_unknown_filter_index_says_how_many_there_are(cnn):
    """Does channel=4 on a 4-filter layer give the valid range?"""
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Received channel=4, but layer 'conv1' has 4 filters, so valid values are 0 to 3."
        ),
    ):
        FilterExplorer(cnn, channel=4, **FAST)


def _centre(model, layer, x, channel):
    act = extract_activations(model, x, layer=layer)[0]
    return float(act[act.shape[0] // 2, act.shape[1] // 2, channel])


@pytest.mark.parametrize(("layer", "channel"), [("conv1", 1), ("conv2", 5)])
def test_maximisation_raises_the_filter_activation(cnn, layer, channel):
    """Does gradient ascent give an input that excites the filter far more than noise does?"""
    pattern = maximize_activation(cnn, layer, channel, steps=20)
    assert pattern.shape == (28, 28, 1)
    assert pattern.min() >= 0.0
    assert pattern.max() <= 1.0
    noise = 0.5 + 0.05 * np.random.default_rng(0).standard_normal((28, 28, 1)).astype("float32")
    assert _centre(cnn, layer, pattern, channel) > 2 * max(
        _centre(cnn, layer, noise, channel), 1e-3
    )


def test_maximisation_is_cached_per_layer_and_filter(cnn, monkeypatch):
    """Is a (layer, filter, settings) computed once, and only missing filters computed later?"""
    calls = []
    real = filters_module._ascend

    def counting(ext, name, channels, *args):
        calls.append((name, list(channels)))
        return real(ext, name, channels, *args)

    monkeypatch.setattr(filters_module, "_ascend", counting)
    first = maximize_activation(cnn, "conv2", [0, 1], steps=5, seed=11)
    again = maximize_activation(cnn, "conv2", 1, steps=5, seed=11)
    maximize_activation(cnn, "conv2", [1, 2, 3], steps=5, seed=11)
    assert calls == [("conv2", [0, 1]), ("conv2", [2, 3])]
    np.testing.assert_array_equal(first[1], again)


def test_progress_is_reported_every_step(cnn):
    """Is the progress callback called once per step with (step, total)?"""
    seen = []
    maximize_activation(cnn, "conv1", 0, steps=6, seed=5, progress=lambda s, t: seen.append((s, t)))
    assert seen == [(s, 6) for s in range(1, 7)]


def test_bad_ascent_settings_are_refused(cnn):
    """Do steps=0 or an unknown objective fail with the valid choices?"""
    with pytest.raises(ValueError, match="Need steps >= 1"):
        maximize_activation(cnn, "conv1", 0, steps=0)
    with pytest.raises(
        ValueError, match=re.escape("Unknown objective 'max'. Available: ['center', 'mean'].")
    ):
        maximize_activation(cnn, "conv1", 0, objective="max")


def test_explorer_state_and_picture(cnn, ipywidgets_major):
    """Are the controls core widgets, and does the picture show kernels and a pattern?"""
    import ipywidgets as w

    ex = FilterExplorer(cnn, **FAST)
    c = ex.controls
    assert list(c["layer"].options) == ["conv1", "conv2"]
    assert isinstance(c["step_size"], w.FloatLogSlider)
    assert isinstance(c["l2"], w.FloatLogSlider)
    assert isinstance(c["all"], w.Button)
    assert c["channel"].continuous_update is False
    assert c["steps"].value == 8
    img = decode_png(ex.image.value)
    np.testing.assert_array_equal(img, ex.to_array())
    assert np.all(img == (230, 60, 30), axis=-1).any()  # the chosen kernel is framed
    assert ex.pattern(compute=False) is not None  # maximize=True computed it
    assert ipywidgets_major in (7, 8)


def test_changing_filter_and_layer_redraws(cnn):
    """Do the filter slider and the layer menu change the picture and the slider range?"""
    ex = FilterExplorer(cnn, **FAST)
    png = ex.image.value
    ex.controls["channel"].value = 2
    assert ex.image.value != png
    ex.controls["layer"].value = "conv2"
    assert ex.controls["channel"].max == 7
    assert ex.kernels.shape == (3, 3, 4, 8)
    assert ex.channel == 2


def test_settings_sliders_recompute_with_the_new_settings(cnn):
    """Does moving the steps slider give a pattern computed with that many steps?"""
    ex = FilterExplorer(cnn, **FAST)
    ex.controls["steps"].value = 3
    expected = maximize_activation(cnn, "conv1", 0, steps=3)
    np.testing.assert_array_equal(ex.pattern(compute=False), expected)


def test_button_maximises_every_filter_of_the_layer(cnn):
    """Does clicking 'Maximise all filters' add a grid of every filter's pattern?"""
    ex = FilterExplorer(cnn, maximize=False, **FAST)
    before = decode_png(ex.image.value)
    ex.controls["all"].click()
    after = decode_png(ex.image.value)
    assert after.shape[0] > before.shape[0]  # the grid of 4 patterns below
    assert ex.pattern(compute=False) is not None
    assert "step 8/8" in ex.status.value or ex.status.value == ""


def test_kernels_only_mode_shows_a_placeholder(cnn):
    """With maximize=False and no button press, is no pattern computed?"""
    ex = FilterExplorer(
        cnn, maximize=False, channel=3, steps=9, l2=0.02
    )  # settings used nowhere else
    assert ex.pattern(compute=False) is None


def test_plot_filters_is_a_figure_of_all_patterns(cnn):
    """Does plot_filters return a Figure with kernels and the pattern grid?"""
    fig = plot_filters(cnn, layer="conv2", steps=4)
    pixels = figure_pixels(fig)
    assert pixels.shape[0] > 250
    assert pixels.std() > 10  # not blank
