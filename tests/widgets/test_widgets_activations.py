"""ActivationExplorer: widget state, the pixels it shows, the cache, and bad input.

Runs with ipywidgets 8 (the course venv) and, through test_widgets_ipywidgets7.py, with
ipywidgets 7 (what Colab ships).
"""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest
from kerascourse.widgets import ActivationExplorer, plot_activations
from kerascourse.widgets._render import decode_png, figure_pixels


@pytest.fixture
def explorer(cnn, images):
    return ActivationExplorer(cnn, images[0][:6], layer="conv1")


def _shown(explorer) -> np.ndarray:
    return decode_png(explorer.image.value)


def test_controls_are_core_widgets_with_the_layers(explorer, ipywidgets_major):
    """Are the controls a layer Dropdown and non-continuous IntSliders, on both majors?"""
    import ipywidgets as w

    c = explorer.controls
    assert isinstance(c["layer"], w.Dropdown)
    assert list(c["layer"].options) == ["conv1", "pool1", "conv2", "flatten", "hidden", "out"]
    assert c["layer"].value == "conv1"
    assert isinstance(c["channel"], w.IntSlider)
    assert (c["channel"].min, c["channel"].max) == (0, 3)  # conv1 has 4 channels
    assert c["channel"].continuous_update is False
    assert (c["index"].max, c["index"].continuous_update) == (5, False)
    assert isinstance(explorer.image, w.Image)
    assert explorer.image.format == "png"
    assert ipywidgets_major in (7, 8)


def test_image_widget_shows_the_rendered_picture(explorer):
    """Are the Image widget's bytes the explorer's PNG, decoding to to_array()?"""
    assert explorer.image.value == explorer.png
    np.testing.assert_array_equal(_shown(explorer), explorer.to_array())


def test_first_picture_shows_input_maps_and_zoom(explorer, images):
    """Does the picture hold the input on the left and 4 feature maps of conv1 in a grid?"""
    img = _shown(explorer)
    assert img.ndim == 3
    assert img.shape[2] == 3
    assert img.shape[1] > 3 * 140  # input, grid and zoom side by side
    assert np.all(img == 255, axis=-1).mean() < 0.8  # a real picture, not a blank panel
    np.testing.assert_array_equal(explorer.activations, explorer._state.maps())
    assert explorer.activations.shape == (26, 26, 4)


def test_changing_the_layer_redraws_without_a_new_forward_pass(explorer):
    """Does choosing another layer in the Dropdown change the picture but reuse the cache?"""
    extractor = explorer._state.extractor
    before_png, passes = explorer.image.value, extractor.forward_passes
    explorer.controls["layer"].value = "conv2"
    assert explorer.layer == "conv2"
    assert explorer.image.value != before_png
    assert explorer.controls["channel"].max == 7  # conv2 has 8 channels
    explorer.controls["layer"].value = "hidden"
    explorer.controls["layer"].value = "pool1"
    assert extractor.forward_passes == passes


def test_changing_the_channel_moves_the_red_frame(explorer):
    """Does another channel move the highlight and redraw, with no new forward pass?"""
    passes = explorer._state.extractor.forward_passes
    red_before = np.argwhere(np.all(_shown(explorer) == (230, 60, 30), axis=-1)).min(axis=0)
    explorer.controls["channel"].value = 3
    red_after = np.argwhere(np.all(_shown(explorer) == (230, 60, 30), axis=-1)).min(axis=0)
    assert explorer.channel == 3
    assert tuple(red_after) != tuple(red_before)
    assert explorer._state.extractor.forward_passes == passes


def test_a_narrower_layer_clamps_the_channel(explorer):
    """Going from channel 7 of conv2 to conv1 (4 channels): is the channel clamped to 3?"""
    explorer.layer = "conv2"
    explorer.channel = 7
    explorer.layer = "conv1"
    assert explorer.channel == 3
    assert explorer.controls["channel"].value == 3


def test_another_sample_runs_one_forward_pass(cnn):
    """Does the sample slider compute a new image's activations exactly once?"""
    noise = np.random.default_rng(7).random((5, 28, 28, 1), dtype=np.float32)  # unseen inputs
    ex = ActivationExplorer(cnn, noise)
    extractor = ex._state.extractor
    passes = extractor.forward_passes
    ex.controls["index"].value = 4  # new sample: one forward pass
    ex.controls["layer"].value = "conv2"  # cached
    ex.controls["index"].value = 0  # shown before: cached
    ex.controls["channel"].value = 2  # cached
    assert extractor.forward_passes == passes + 1


def test_dense_layer_is_a_strip_of_units(cnn, images):
    """Does a dense layer draw one cell per unit with the chosen unit framed?"""
    ex = ActivationExplorer(cnn, images[0][0], layer="hidden", channel=2)
    img = _shown(ex)
    assert ex.controls["channel"].max == 7
    assert np.all(img == (230, 60, 30), axis=-1).any()
    assert img.shape[0] < 260  # a strip and a bar chart, not a grid of maps


def test_display_data_carries_widget_view_and_the_same_png(explorer):
    """Does _repr_mimebundle_ hold the widget view and the PNG as static fallback?"""
    bundle = explorer._repr_mimebundle_()
    view = bundle["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == explorer.widget.model_id
    assert view["version_major"] == 2
    assert base64.b64decode(bundle["image/png"]) == explorer.image.value
    assert bundle["text/plain"].startswith("ActivationExplorer(model='cnn'")


def test_explorer_root_is_findable_in_the_page(explorer):
    """Does the root box carry the CSS class the browser test looks for?"""
    assert "kc-activation-explorer" in explorer.widget._dom_classes


def test_plot_activations_returns_the_same_picture_as_a_figure(cnn, images):
    """Is the Figure of plot_activations the explorer's picture (plus a title)?"""
    fig = plot_activations(cnn, images[0][1], layer="conv2", channel=5)
    pixels = figure_pixels(fig)
    ex = ActivationExplorer(cnn, images[0][1], layer="conv2", channel=5)
    picture = ex.to_array()
    assert pixels.shape[1] == picture.shape[1]
    bottom = pixels[-picture.shape[0] :]
    assert np.abs(bottom.astype(int) - picture).mean() < 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"layer": "conv9"}, "Layer 'conv9' not found in model 'cnn'. Valid layer names: ['conv1', 'pool1', "),
     ({"channel": 4}, "Received channel=4, but layer 'conv1' has 4 channels (output shape (26, 26, 4)), so valid values are 0 to 3."),
     ({"index": 6}, "Received index=6, but the input batch has 6 samples (shape (6, 28, 28, 1)), so valid values are 0 to 5."),
     ({"channel": 1.5}, "channel must be an integer. Received: channel=1.5.")],
    ids=["layer", "channel", "index", "channel-type"],
)  # fmt: skip
def test_bad_arguments_get_clear_messages(cnn, images, kwargs, message):
    """Does each bad argument name what was wrong, what is valid, and what was received?"""
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        ActivationExplorer(cnn, images[0][:6], layer=kwargs.pop("layer", "conv1"), **kwargs)


def test_setting_a_bad_layer_on_a_live_explorer_fails_clearly(explorer):
    """Does explorer.layer = 'nope' raise the same message and leave the view unchanged?"""
    png = explorer.image.value
    with pytest.raises(ValueError, match=re.escape("Valid layer names: ['conv1'")):
        explorer.layer = "nope"
    assert explorer.image.value == png
    assert explorer.layer == "conv1"


def test_wrong_input_shape_says_the_expected_shape(cnn, images):
    """Does a flattened batch get the expected shape and the reshape fix?"""
    with pytest.raises(ValueError, match=re.escape(
        "ActivationExplorer got an input of shape (2, 784), but model 'cnn' expects samples of "
        "shape (28, 28, 1): a batch of shape (?, 28, 28, 1) or one sample of shape (28, 28, 1). "
        "Reshape it with x.reshape(-1, 28, 28, 1)."
    )):  # fmt: skip
        ActivationExplorer(cnn, images[0][:2].reshape(2, -1))


@pytest.mark.parametrize("kind", ["seq_no_input", "nested", "chain"])
def test_explorer_works_for_each_model_kind(kind, request, images):
    """Does the explorer open on Sequential-without-Input, nested and subclassed models?"""
    model = request.getfixturevalue(kind)
    ex = ActivationExplorer(model, images[0][:2])
    assert ex.controls["layer"].options
    for name in ex.controls["layer"].options:
        ex.controls["layer"].value = name
        assert decode_png(ex.image.value).shape == ex.to_array().shape
