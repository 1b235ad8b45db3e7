"""The numpy+PIL pictures behind every explorer: pixels we can read back."""

from __future__ import annotations

import re

import numpy as np
import pytest
from kerascourse.widgets import _render
from kerascourse.widgets.filters import kernel_picture


def test_mosaic_lays_out_channels_in_a_grid():
    """Does a (h, w, 5) stack become a 3x2 grid of tiles on a grey background?"""
    maps = np.zeros((4, 4, 5), dtype=np.float32)
    for c in range(5):
        maps[..., c] = c
    img = _render.mosaic(maps, cols=3, tile=8, pad=2)
    assert img.dtype == np.uint8
    assert img.shape == (2 * (8 + 2) + 2, 3 * (8 + 2) + 2, 3)
    lut = _render.colormap_lut("viridis")
    assert tuple(img[2, 2]) == tuple(lut[0])  # first tile: the smallest value
    assert tuple(img[12 + 2, 12 + 2]) == tuple(lut[-1])  # fifth tile: the largest
    assert tuple(img[12 + 2, 22 + 2]) == _render.GRID_GAP  # the empty sixth cell


def test_mosaic_frames_the_highlighted_channel_in_red():
    """Is the chosen channel's tile framed with the highlight colour, and no other?"""
    maps = np.random.default_rng(0).random((6, 6, 4)).astype(np.float32)
    img = _render.mosaic(maps, cols=2, tile=6, pad=2, highlight=3)
    red = np.all(img == _render.HIGHLIGHT, axis=-1)
    ys, xs = np.nonzero(red)
    assert ys.min() == 8  # second row of tiles
    assert xs.min() == 8  # second column
    assert not red[:8].any()


def test_mosaic_channel_scale_stretches_each_channel():
    """With scale='channel', does a faint channel use the whole colour range?"""
    maps = np.stack(
        [np.linspace(0, 1, 16).reshape(4, 4), np.linspace(0, 0.01, 16).reshape(4, 4)], axis=-1
    )
    shared = _render.mosaic(maps, cols=2, tile=4, pad=0, scale="layer")
    own = _render.mosaic(maps, cols=2, tile=4, pad=0, scale="channel")
    lut = _render.colormap_lut("viridis")
    assert tuple(shared[3, 7]) != tuple(lut[-1])  # faint channel stays dark on a shared scale
    assert tuple(own[3, 7]) == tuple(lut[-1])


def test_constant_maps_do_not_produce_nan_colours():
    """Does an all-zero layer (dead ReLUs) draw as the lowest colour instead of failing?"""
    img = _render.mosaic(np.zeros((3, 3, 2)), tile=3, pad=0, cols=2)
    assert np.all(img == _render.colormap_lut("viridis")[0])


def test_mosaic_rejects_a_batch_axis():
    """Does passing (1, h, w, c) say which shape is expected?"""
    with pytest.raises(
        ValueError, match=re.escape("(height, width, channels); got shape (1, 4, 4, 2)")
    ):
        _render.mosaic(np.zeros((1, 4, 4, 2)))


def test_unknown_colour_map_is_named():
    """Does a typo in a colour map name give a clear error with examples?"""
    with pytest.raises(ValueError, match="Unknown colour map 'viridiss'"):
        _render.colormap_lut("viridiss")


def test_heat_strip_has_one_cell_per_unit():
    """Is a 10-unit vector drawn as 10 cells in one row, the chosen one framed?"""
    img = _render.heat_strip(np.arange(10), cols=10, cell=5, highlight=4)
    assert img.shape == (1 * 6 + 1, 10 * 6 + 1, 3)
    red = np.all(img == _render.HIGHLIGHT, axis=-1)
    assert red[:, 4 * 6 : 5 * 6 + 2].any()
    assert not red[:, : 3 * 6].any()


def test_bars_draw_positive_and_negative_values_around_zero():
    """Does a bar chart put positive bars above and negative bars below the zero line?"""
    img = _render.bars(np.array([1.0, -1.0]), width=20, height=21)
    column = lambda x: np.any(img[:, x] != 255, axis=-1)
    assert column(2)[:10].all()  # first bar fills the upper half
    assert column(12)[11:].all()  # second bar fills the lower half


def test_png_round_trip_keeps_every_pixel():
    """Does encode_png then decode_png give back the exact array?"""
    img = (np.random.default_rng(1).random((17, 23, 3)) * 255).astype(np.uint8)
    png = _render.encode_png(img)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    np.testing.assert_array_equal(_render.decode_png(png), img)


def test_figure_shows_the_picture_pixel_for_pixel():
    """Does as_figure reproduce the picture at one pixel per pixel (what plot_* return)?"""
    img = (np.random.default_rng(2).random((60, 80, 3)) * 255).astype(np.uint8)
    pixels = _render.figure_pixels(_render.as_figure(img))
    assert pixels.shape == img.shape
    assert np.abs(pixels.astype(int) - img).mean() < 2


def test_kit_figures_show_as_png_without_pyplot():
    """Do the kit's figures carry a PNG repr, so a notebook shows them without pyplot?"""
    fig = _render.as_figure(np.zeros((10, 10, 3), dtype=np.uint8))
    assert fig._repr_png_()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("shape", "expected"),
    [((3, 3, 1, 6), "grid of 6 grey tiles"), ((3, 3, 3, 6), "grid of 6 RGB tiles"),
     ((3, 3, 5, 6), "one tile per input channel")],
)  # fmt: skip
def test_kernel_picture_by_input_channels(shape, expected):
    """First-layer kernels as one tile per filter; deeper ones per input channel?"""
    k = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    img = kernel_picture(k, channel=2, tile=9)
    tiles = shape[3] if shape[2] in (1, 3) else shape[2]
    cols = int(np.ceil(np.sqrt(tiles)))
    rows = int(np.ceil(tiles / cols))
    assert img.shape == (rows * 11 + 2, cols * 11 + 2, 3), expected


def test_rgb_kernels_keep_their_colours():
    """Is a red-only first-layer kernel drawn red?"""
    k = np.zeros((3, 3, 3, 1), dtype=np.float32)
    k[..., 0, 0] = 1.0
    img = kernel_picture(k, tile=3)
    centre = img[3, 3]
    assert centre[0] == 255
    assert centre[1] == 0
    assert centre[2] == 0
