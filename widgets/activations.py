"""Activation explorer: what each layer outputs for one input.

Pure functions first (:func:`extract_activations`, :func:`activation_picture`), then the
function form :func:`plot_activations` (a matplotlib Figure) and the widget
:class:`ActivationExplorer`, which only wires a layer ``Dropdown`` and ``IntSlider``s for
the channel and the sample to those functions. The forward pass runs once per input:
changing the layer or the channel reads the cached outputs.

Example:
    >>> from kerascourse.widgets import ActivationExplorer
    >>> ActivationExplorer(model, x_test[:16])          # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _render
from ._explorer import Explorer
from ._models import ActivationExtractor, check_index, prepare, resolve_layer

#: At most this many feature maps are drawn at once (the page holding the chosen channel).
PAGE = 64


def extract_activations(model: Any, x: Any, *, layer: Any = None) -> Any:
    """Every layer's output for `x`, from one cached multi-output extractor.

    Args:
        model: a built Keras model: Sequential (with or without ``Input``), functional,
            nested (layers inside a model used as a layer are named ``"outer/inner"``)
            or subclassed (if its layers form a plain chain).
        x: one sample (shape of one model input) or a batch of them.
        layer: a layer name or layer object to return only that output. Defaults to
            `None` (all layers).

    Returns:
        A dict ``name -> array`` with a batch axis (all layers), or one array.

    Example:
        >>> acts = extract_activations(model, x_test[:1])     # doctest: +SKIP
        >>> acts["conv1"].shape                               # doctest: +SKIP
        (1, 26, 26, 16)
    """
    extractor, batch = prepare(model, x, "extract_activations")
    outputs = extractor.activations(model, batch)
    if layer is None:
        return dict(outputs)
    return outputs[resolve_layer(extractor, layer)]


def num_channels(shape: tuple) -> int:
    """Channels (last axis) of one sample's output; units for a dense output."""
    return int(shape[-1]) if shape else 1


def default_layer(extractor: ActivationExtractor) -> str:
    """The first layer with feature maps (height, width, channels), else the first layer."""
    for name in extractor.names:
        if len(extractor.output_shape(name)) == 3:
            return name
    return extractor.names[0]


def input_picture(sample: np.ndarray, *, size: int = 140, cmap: str = "gray") -> np.ndarray:
    """One model input as a picture: an image, a square vector as an image, else a strip."""
    a = np.asarray(sample)
    if a.dtype.kind not in "fiub":
        a = a.astype(np.float32)
    if a.ndim == 3 and a.shape[-1] in (1, 3, 4):
        img = _render.to_rgb(a, cmap=cmap)
    elif a.ndim == 2:
        img = _render.colorize(a, cmap)
    elif a.ndim == 1 and int(np.sqrt(a.size)) ** 2 == a.size and a.size >= 16:
        side = int(np.sqrt(a.size))
        img = _render.colorize(a.reshape(side, side), cmap)
    else:
        return _render.heat_strip(a.ravel(), cmap="viridis", cols=min(a.size, 16))
    h, w = _render.fit_size(img.shape[0], img.shape[1], size)
    return _render.resize(img, w, h)


def activation_picture(
    maps: np.ndarray,
    *,
    layer: str,
    channel: int = 0,
    sample: np.ndarray | None = None,
    index: int | None = None,
    cmap: str = "viridis",
    scale: str = "layer",
    input_cmap: str = "gray",
) -> np.ndarray:
    """The explorer's picture for one layer's output `maps` (one sample, no batch axis).

    Feature maps (height, width, channels) become a grid with `channel` framed and zoomed;
    a vector (dense units) a heat strip and a bar chart; (steps, units) a heat map and the
    chosen unit over time. `sample`, when given, is drawn on the left.
    """
    maps = np.asarray(maps, dtype=np.float32)
    panels = []
    if sample is not None:
        label = "input" if index is None else f"input #{index}"
        panels.append(_render.titled(input_picture(sample, cmap=input_cmap), label))
    n = num_channels(maps.shape)
    if maps.ndim >= 3:
        maps3 = maps.reshape(-1, maps.shape[-2], n) if maps.ndim > 3 else maps
        start = (channel // PAGE) * PAGE
        page = maps3[..., start : start + PAGE]
        cols = int(np.ceil(np.sqrt(page.shape[-1])))
        tile = int(np.clip(400 // max(cols, 1) - 2, 12, 64))
        grid = _render.mosaic(
            page, cols=cols, tile=tile, cmap=cmap, scale=scale, highlight=channel - start
        )
        shown = f" ({start}-{start + page.shape[-1] - 1} of {n})" if n > PAGE else ""
        title = f"{layer}: {n} maps {maps3.shape[0]}x{maps3.shape[1]}{shown}"
        panels.append(_render.titled(grid, title))
        one = maps3[..., channel]
        zh, zw = _render.fit_size(one.shape[0], one.shape[1], 180)
        zoom = _render.resize(_render.colorize(one, cmap), zw, zh)
        panels.append(
            _render.titled(zoom, f"channel {channel}: {one.min():.2f} to {one.max():.2f}")
        )
        return _render.border(_render.hstack(panels))
    if maps.ndim == 2:  # (steps, units)
        heat = _render.heatmap(maps.T, target=320, cmap=cmap)
        panels.append(_render.titled(heat, f"{layer}: {n} units x {maps.shape[0]} steps"))
        line = _render.bars(maps[:, channel], width=240, height=120)
        panels.append(_render.titled(line, f"unit {channel} over steps"))
        return _render.border(_render.hstack(panels))
    values = maps.ravel()
    strip = _render.heat_strip(values, cols=min(n, 32), cmap=cmap, highlight=channel)
    parts = [strip]
    if n <= 256:
        parts.append(
            _render.bars(values, width=max(strip.shape[1], 160), height=110, highlight=channel)
        )
    body = _render.vstack(parts, gap=6)
    title = f"{layer}: {n} units, unit {channel} = {values[channel]:.3f}"
    panels.append(_render.titled(body, title))
    return _render.border(_render.hstack(panels))


def plot_activations(
    model: Any,
    x: Any,
    *,
    layer: Any = None,
    index: int = 0,
    channel: int = 0,
    cmap: str = "viridis",
    scale: str = "layer",
):
    """The activation explorer's picture as a matplotlib Figure (scripts, tests, reports).

    Arguments mean the same as in :class:`ActivationExplorer`.

    Example:
        >>> fig = plot_activations(model, x_test[:1], layer="conv1")   # doctest: +SKIP
        >>> fig.savefig("conv1.png")                                   # doctest: +SKIP
    """
    view = _ActivationState(model, x, layer, index, channel, "plot_activations")
    img = view.picture(cmap=cmap, scale=scale)
    return _render.as_figure(img, title=f"{model.name}: {view.layer}")


class _ActivationState:
    """Checked (model, input, layer, index, channel): shared by the function and the widget."""

    def __init__(self, model, x, layer, index, channel, who, input_cmap="gray") -> None:
        self.model, self.who, self.input_cmap = model, who, input_cmap
        self.extractor, self.x = prepare(model, x, who)
        self.layer = (
            default_layer(self.extractor) if layer is None else resolve_layer(self.extractor, layer)
        )
        self.index = check_index(index, len(self.x), name="index", what=self.batch_what())
        self.channel = check_index(channel, self.channels(), name="channel", what=self._what())

    def channels(self, layer: str | None = None) -> int:
        return num_channels(self.extractor.output_shape(layer or self.layer))

    def _what(self) -> str:
        shape = self.extractor.output_shape(self.layer)
        kind = "channels" if len(shape) >= 3 else "units"
        return f"layer {self.layer!r} has {self.channels()} {kind} (output shape {shape})"

    def batch_what(self) -> str:
        return f"the input batch has {len(self.x)} samples (shape {self.x.shape})"

    def maps(self) -> np.ndarray:
        batch = self.x[self.index : self.index + 1]
        return self.extractor.activations(self.model, batch)[self.layer][0]

    def picture(self, **kw: Any) -> np.ndarray:
        index = self.index if len(self.x) > 1 else None
        return activation_picture(
            self.maps(), layer=self.layer, channel=self.channel, sample=self.x[self.index],
            index=index, input_cmap=self.input_cmap, **kw,
        )  # fmt: skip


class ActivationExplorer(Explorer):
    """Pick a layer, see its feature maps for one input; zoom one channel.

    Displays itself: a layer ``Dropdown``, a channel ``IntSlider``, a sample ``IntSlider``
    (when `x` is a batch) and the picture. The forward pass runs once per sample (one
    multi-output extractor per model); changing the layer or the channel only redraws.

    Args:
        model: a built Keras model (Sequential, functional, nested or subclassed chain).
        x: one input sample, or a batch to choose from with the sample slider.
        layer: layer name (or layer object) shown first. Defaults to the first layer with
            feature maps, else the first layer.
        index: which sample of the batch. Defaults to `0`.
        channel: which channel (dense layers: unit) to zoom. Defaults to `0`.
        cmap: matplotlib colour map for activations. Defaults to `"viridis"`.
        scale: ``"layer"`` (one colour scale per layer) or ``"channel"``. Defaults to
            `"layer"`.
        input_cmap: colour map for grey inputs. Defaults to `"gray"`.

    Example:
        >>> explorer = ActivationExplorer(model, x_test[:8], layer="conv1")  # doctest: +SKIP
        >>> explorer.layer = "conv2"    # same as choosing it in the Dropdown  # doctest: +SKIP
    """

    dom_class = "kc-activation-explorer"

    def __init__(
        self,
        model: Any,
        x: Any,
        *,
        layer: Any = None,
        index: int = 0,
        channel: int = 0,
        cmap: str = "viridis",
        scale: str = "layer",
        input_cmap: str = "gray",
    ) -> None:
        super().__init__()
        self.model = model
        self.cmap, self.scale = cmap, scale
        self._state = _ActivationState(
            model, x, layer, index, channel, "ActivationExplorer", input_cmap
        )
        self.layers = list(self._state.extractor.names)
        self._build()

    def _layout(self) -> list[Any]:
        import ipywidgets as w

        s = self._state
        layer = w.Dropdown(options=self.layers, value=s.layer, description="layer")
        channel = w.IntSlider(
            value=s.channel,
            min=0,
            max=s.channels() - 1,
            description="channel",
            continuous_update=False,
        )
        index = w.IntSlider(
            value=s.index, min=0, max=len(s.x) - 1, description="sample", continuous_update=False
        )
        self.status = w.HTML(value=self._info())
        self.controls = {"layer": layer, "channel": channel, "index": index}
        self._observe(layer, self._on_layer)
        self._observe(channel, self._on_channel)
        self._observe(index, self._on_index)
        row = [layer, channel] + ([index] if len(s.x) > 1 else [])
        return [w.HBox(row), self.status]

    def _info(self) -> str:
        s = self._state
        kind = type(s.extractor.layers[s.layer]).__name__
        shape = s.extractor.output_shape(s.layer)
        return f"<b>{s.layer}</b> ({kind}) output shape per sample: {shape}"

    def _on_layer(self, change: dict[str, Any]) -> None:
        s = self._state
        s.layer = change["new"]
        top = s.channels() - 1
        s.channel = min(s.channel, top)
        self._set_quietly(self.controls["channel"], max=top, value=s.channel)
        self.status.value = self._info()
        self.refresh()

    def _on_channel(self, change: dict[str, Any]) -> None:
        self._state.channel = int(change["new"])
        self.refresh()

    def _on_index(self, change: dict[str, Any]) -> None:
        self._state.index = int(change["new"])
        self.refresh()

    def render(self) -> np.ndarray:
        return self._state.picture(cmap=self.cmap, scale=self.scale)

    # -- the state as plain attributes (scripts and tests) ------------------------------
    @property
    def layer(self) -> str:
        """The layer shown (setting it is the same as choosing it in the Dropdown)."""
        return self._state.layer

    @layer.setter
    def layer(self, value: Any) -> None:
        self.controls["layer"].value = resolve_layer(self._state.extractor, value)

    @property
    def channel(self) -> int:
        """The zoomed channel (dense layers: unit)."""
        return self._state.channel

    @channel.setter
    def channel(self, value: int) -> None:
        s = self._state
        self.controls["channel"].value = check_index(
            value, s.channels(), name="channel", what=s._what()
        )

    @property
    def index(self) -> int:
        """Which sample of the batch is shown."""
        return self._state.index

    @index.setter
    def index(self, value: int) -> None:
        s = self._state
        self.controls["index"].value = check_index(
            value, len(s.x), name="index", what=s.batch_what()
        )

    @property
    def activations(self) -> np.ndarray:
        """The shown layer's output for the shown sample (no batch axis)."""
        return self._state.maps()

    def __repr__(self) -> str:
        s = self._state
        return f"ActivationExplorer(model={self.model.name!r}, layer={s.layer!r}, channel={s.channel}, index={s.index})"
