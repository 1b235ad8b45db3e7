"""Filter explorer: the raw kernels of a convolution layer, and the input each filter likes.

Pure functions: :func:`conv_layer_names`, :func:`conv_kernels`, :func:`kernel_picture`
and :func:`maximize_activation` (gradient ascent on the input, written with ``keras.ops``;
the gradient comes from the backend's own differentiation: ``tf.GradientTape``,
``jax.grad`` or ``torch.autograd``). Results are cached per (model weights, layer, filter,
settings), so revisiting a filter is instant. :func:`plot_filters` returns a Figure;
:class:`FilterExplorer` wires a layer ``Dropdown``, a filter ``IntSlider``, step and
regularisation sliders and a ``Button`` to them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _render
from ._cache import PATTERNS, weights_key
from ._explorer import Explorer
from ._models import activation_extractor, check_index, check_model, model_label, resolve_layer

#: Defaults of the gradient ascent (one place, used by the function and the widget).
STEPS = 40
STEP_SIZE = 0.05
L2 = 0.01


def _is_conv2d(layer: Any) -> bool:
    import keras

    return isinstance(layer, keras.layers.Conv2D)


def _extractor(model: Any, who: str, input_shape=None):
    return activation_extractor(model, who=who, input_shape=input_shape)


def conv_layer_names(model: Any, *, input_shape: Sequence[int] | None = None) -> list[str]:
    """Names of the model's ``Conv2D`` layers (nested ones as ``"outer/inner"``), in order."""
    ext = _extractor(model, "conv_layer_names", input_shape)
    return [n for n in ext.names if _is_conv2d(ext.layers[n])]


def resolve_conv_layer(model: Any, layer: Any, who: str, input_shape=None) -> str:
    """A valid ``Conv2D`` layer name (default: the first), else an error naming the conv layers."""
    ext = _extractor(model, who, input_shape)
    convs = [n for n in ext.names if _is_conv2d(ext.layers[n])]
    if not convs:
        msg = (
            f"{who} shows convolution kernels, but model {model_label(model)} has no Conv2D "
            "layers. Use ActivationExplorer or EmbeddingExplorer to look at its dense layers."
        )
        raise ValueError(msg)
    if layer is None:
        return convs[0]
    name = resolve_layer(ext, layer)
    if name not in convs:
        kind = type(ext.layers[name]).__name__
        msg = (
            f"{who} shows convolution kernels, but layer {name!r} of model "
            f"{model_label(model)} is a {kind} layer. Conv2D layers in this model: {convs}. "
            f"Received: layer={name!r}."
        )
        raise ValueError(msg)
    return name


def conv_kernels(model: Any, layer: Any = None) -> np.ndarray:
    """The raw kernels of a ``Conv2D`` layer: ``(height, width, in_channels, filters)``.

    Args:
        model: a built Keras model.
        layer: a Conv2D layer name or object. Defaults to the first Conv2D layer.
    """
    check_model(model, "conv_kernels")
    name = resolve_conv_layer(model, layer, "conv_kernels")
    kernel = _extractor(model, "conv_kernels").layers[name].kernel
    return np.array(kernel.numpy(), dtype=np.float32)


def kernel_picture(
    kernels: np.ndarray,
    *,
    channel: int | None = None,
    tile: int = 36,
    cmap: str = "RdBu_r",
    max_tiles: int = 64,
) -> np.ndarray:
    """Kernels ``(h, w, in, filters)`` as a picture (uint8 RGB).

    With 1 or 3 input channels (a first layer) every filter is one grey or RGB tile and
    `channel` is framed. Deeper layers show the chosen filter's kernel for each input
    channel (blue negative, white zero, red positive, one scale for the filter).
    """
    k = np.asarray(kernels, dtype=np.float32)
    if k.ndim != 4:
        msg = f"kernel_picture() needs Conv2D kernels of shape (height, width, in_channels, filters); got {k.shape}."
        raise ValueError(msg)
    n_in, n_out = k.shape[2], k.shape[3]
    th, tw = _render.fit_size(k.shape[0], k.shape[1], tile)
    if n_in == 3:
        tiles = []
        for f in range(min(n_out, max_tiles)):
            rgb = (_render.normalize(k[..., f]) * 255).astype(np.uint8)
            tiles.append(_render.resize(rgb, tw, th))
        return _render.grid(np.stack(tiles), highlight=channel, pad=2)
    if n_in == 1:
        limit = float(np.abs(k).max()) or 1.0
        tiles = _render.colorize(np.moveaxis(k[:, :, 0, :max_tiles], -1, 0), cmap, -limit, limit)
        tiles = np.stack([_render.resize(t, tw, th) for t in tiles])
        return _render.grid(tiles, highlight=channel, pad=2)
    f = 0 if channel is None else channel
    one = k[..., f]  # (h, w, in)
    limit = float(np.abs(one).max()) or 1.0
    tiles = _render.colorize(np.moveaxis(one[..., :max_tiles], -1, 0), cmap, -limit, limit)
    tiles = np.stack([_render.resize(t, tw, th) for t in tiles])
    return _render.grid(tiles, pad=2)


def _gradient_fn(loss_fn: Callable) -> Callable:
    """(image -> (loss, d loss / d image)) with the running backend's differentiation."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        def tf_grad(img):
            with tf.GradientTape() as tape:
                tape.watch(img)
                loss = loss_fn(img)
            return loss, tape.gradient(loss, img)

        return tf_grad
    if backend == "jax":
        import jax

        return jax.value_and_grad(loss_fn)
    if backend == "torch":
        import torch

        def torch_grad(img):
            img = img.detach().requires_grad_(True)
            loss = loss_fn(img)
            (grad,) = torch.autograd.grad(loss, img)
            return loss.detach(), grad

        return torch_grad
    msg = f"Activation maximisation needs the tensorflow, jax or torch backend; Keras is using {backend!r}."
    raise NotImplementedError(msg)


def _pattern_cache(model: Any) -> dict:
    cache = PATTERNS.get(model)
    if cache is None:
        cache = PATTERNS[model] = {}
    return cache


def maximize_activation(
    model: Any,
    layer: Any = None,
    channel: int | Sequence[int] = 0,
    *,
    steps: int = STEPS,
    step_size: float = STEP_SIZE,
    l2: float = L2,
    objective: str = "center",
    seed: int = 0,
    value_range: tuple[float, float] = (0.0, 1.0),
    input_shape: Sequence[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """The input pattern a filter responds to most, by gradient ascent on the input.

    Starts from grey noise and repeats `steps` times: image += step_size x (gradient of
    the filter's activation, scaled so its largest entry is 1), pulled back towards grey
    by `l2` (the regularisation: larger means fainter, more local patterns), clipped to
    `value_range`. Several filters are optimised together in one batch. Results are
    cached per (weights, layer, filter, settings).

    Args:
        model: a built Keras model.
        layer: layer name or object; any layer whose output has channels last works.
            Defaults to the first Conv2D layer.
        channel: one filter index, or a list of them. Defaults to `0`.
        steps: gradient steps. Defaults to `40`.
        step_size: step length per iteration, in input units. Defaults to `0.05`.
        l2: pull towards the middle of `value_range` per step (0 turns it off).
            Defaults to `0.01`.
        objective: ``"center"`` maximises the filter at the middle of its feature map
            (the pattern appears inside that unit's receptive field); ``"mean"``
            maximises its average over all positions (for a linear first layer that
            optimum is a flat image). Defaults to `"center"`.
        seed: seed of the starting noise. Defaults to `0`.
        value_range: valid input range, as in the training data. Defaults to `(0.0, 1.0)`.
        input_shape: one sample's shape, needed only for a subclassed model that was
            built without an input shape.
        progress: called as ``progress(step, steps)`` after each step.

    Returns:
        ``(height, width, channels)`` for one filter, ``(n, ...)`` for a list.
    """

    who = "maximize_activation"
    check_model(model, who)
    ext = _extractor(model, who, input_shape)
    name = (
        resolve_conv_layer(model, layer, who, input_shape)
        if layer is None
        else resolve_layer(ext, layer)
    )
    out_shape = ext.output_shape(name)
    n_ch = int(out_shape[-1]) if out_shape else 1
    single = isinstance(channel, (int, np.integer))
    wanted = [int(channel)] if single else [int(c) for c in channel]
    for c in wanted:
        check_index(
            c,
            n_ch,
            name="channel",
            what=f"layer {name!r} has {n_ch} channels (output shape {out_shape})",
        )
    if steps < 1 or step_size <= 0 or l2 < 0:
        msg = f"Need steps >= 1, step_size > 0 and l2 >= 0. Received: steps={steps}, step_size={step_size}, l2={l2}."
        raise ValueError(msg)
    if objective not in ("center", "mean"):
        msg = f"Unknown objective {objective!r}. Available: ['center', 'mean']."
        raise ValueError(msg)
    if None in ext.input_shape:
        msg = f"{who} needs a fixed input shape; model {model_label(model)} accepts {ext.input_shape}."
        raise ValueError(msg)
    settings = _settings_key(model, name, steps, step_size, l2, objective, seed, value_range)
    cache = _pattern_cache(model)
    missing = [c for c in dict.fromkeys(wanted) if (*settings, c) not in cache]
    if missing:
        result = _ascend(
            ext,
            name,
            missing,
            n_ch,
            out_shape,
            steps,
            step_size,
            l2,
            objective,
            seed,
            value_range,
            progress,
        )
        for i, c in enumerate(missing):
            cache[(*settings, c)] = result[i]
    patterns = np.stack([cache[(*settings, c)] for c in wanted])
    return patterns[0] if single else patterns


def _settings_key(model, name, steps, step_size, l2, objective, seed, value_range) -> tuple:
    return (weights_key(model), name, int(steps), float(step_size), float(l2), objective, int(seed),
            tuple(float(v) for v in value_range))  # fmt: skip


def cached_pattern(
    model: Any, layer: str, channel: int, *, steps: int = STEPS, step_size: float = STEP_SIZE,
    l2: float = L2, objective: str = "center", seed: int = 0, value_range=(0.0, 1.0),
) -> np.ndarray | None:  # fmt: skip
    """The result :func:`maximize_activation` would return from its cache, or None."""
    key = (
        *_settings_key(model, layer, steps, step_size, l2, objective, seed, value_range),
        int(channel),
    )
    return _pattern_cache(model).get(key)


def _objective(
    feature: Any, n: int, n_ch: int, out_shape: tuple, objective: str, mask: Any
) -> Callable:
    from keras import ops

    def loss_fn(image):
        out = feature(image, training=False)
        if objective == "center" and len(out_shape) > 1:
            out = out[(slice(None), *[int(d) // 2 for d in out_shape[:-1]])]  # (n, channels)
        out = ops.reshape(out, (n, -1, n_ch))
        return ops.sum(ops.mean(ops.sum(out * mask[:, None, :], axis=-1), axis=1))

    return loss_fn


@contextlib.contextmanager
def _pre_activation(layer: Any):
    """Temporarily make `layer` linear, so a unit that ReLU silences still has a gradient.

    Maximising the pre-activation maximises the activation too (ReLU, sigmoid, tanh are
    increasing), and starting from grey noise a silenced unit would have no gradient at all.
    """
    import keras

    activation = getattr(layer, "activation", None)
    if activation is None or activation is keras.activations.linear:
        yield
        return
    layer.activation = keras.activations.linear
    try:
        yield
    finally:
        layer.activation = activation


def _ascend(
    ext,
    name,
    channels,
    n_ch,
    out_shape,
    steps,
    step_size,
    l2,
    objective,
    seed,
    value_range,
    progress,
):
    """Gradient ascent for several filters at once; returns a numpy batch of inputs."""
    with _pre_activation(ext.layers[name]):
        return _ascend_steps(
            ext,
            name,
            channels,
            n_ch,
            out_shape,
            steps,
            step_size,
            l2,
            objective,
            seed,
            value_range,
            progress,
        )


def _ascend_steps(
    ext,
    name,
    channels,
    n_ch,
    out_shape,
    steps,
    step_size,
    l2,
    objective,
    seed,
    value_range,
    progress,
):
    from keras import ops

    lo, hi = float(value_range[0]), float(value_range[1])
    mid, span = (lo + hi) / 2, hi - lo
    rng = np.random.default_rng(seed)
    start = mid + 0.05 * span * rng.standard_normal((len(channels), *ext.input_shape))
    img = ops.convert_to_tensor(start.astype("float32"))
    mask = ops.convert_to_tensor(np.eye(n_ch, dtype="float32")[channels])  # (n, channels)
    loss_fn = _objective(ext.feature_model(name), len(channels), n_ch, out_shape, objective, mask)
    grad_fn = _gradient_fn(loss_fn)
    axes = tuple(range(1, len(ext.input_shape) + 1))
    for step in range(int(steps)):
        _, grad = grad_fn(img)
        top = ops.max(ops.abs(grad), axis=axes, keepdims=True) + 1e-12
        img = img + step_size * span * grad / top
        img = img - l2 * (img - mid)
        img = ops.clip(img, lo, hi)
        if progress is not None:
            progress(step + 1, int(steps))
    return ops.convert_to_numpy(img)


def receptive_field(
    model: Any, layer: Any, *, input_shape: Sequence[int] | None = None
) -> tuple | None:
    """(top, bottom, left, right) of the input region that the middle unit of `layer` sees.

    Found from where the gradient of that unit (all channels) is non-zero, at a grey
    noisy input; None when the layer has no spatial axes or the input is not an image.
    """
    from keras import ops

    ext = _extractor(model, "receptive_field", input_shape)
    name = resolve_layer(ext, layer)
    out_shape = ext.output_shape(name)
    if len(out_shape) != 3 or len(ext.input_shape) != 3 or None in ext.input_shape:
        return None
    key = ("receptive_field", name)
    cache = _pattern_cache(model)
    if key not in cache:
        n_ch = int(out_shape[-1])
        mask = ops.ones((1, n_ch))
        loss_fn = _objective(ext.feature_model(name), 1, n_ch, out_shape, "center", mask)
        rng = np.random.default_rng(0)
        start = ops.convert_to_tensor(
            (0.5 + 0.2 * rng.standard_normal((1, *ext.input_shape))).astype("float32")
        )
        with _pre_activation(ext.layers[name]):
            _, grad = _gradient_fn(loss_fn)(start)
        seen = np.abs(ops.convert_to_numpy(grad))[0].sum(axis=-1) > 0
        ys, xs = np.nonzero(seen)
        cache[key] = (
            None
            if ys.size == 0
            else (int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1)
        )
    return cache[key]


def pattern_picture(
    pattern: np.ndarray, *, size: int = 160, cmap: str = "gray", box: tuple | None = None
) -> np.ndarray:
    """One maximised input as a picture (contrast stretched, cropped to `box`), uint8 RGB."""
    from .activations import input_picture

    p = np.asarray(pattern, dtype=np.float32)
    if box is not None and p.ndim == 3:
        top, bottom, left, right = box
        p = p[max(0, top - 1) : bottom + 1, max(0, left - 1) : right + 1]
    return input_picture((p - p.min()) / (np.ptp(p) or 1.0), size=size, cmap=cmap)


def filters_picture(
    kernels: np.ndarray,
    *,
    layer: str,
    channel: int,
    pattern: np.ndarray | None = None,
    all_patterns: np.ndarray | None = None,
    cmap: str = "gray",
    box: tuple | None = None,
) -> np.ndarray:
    """The filter explorer's picture: kernels, the chosen filter's pattern, optionally all.

    `box` crops patterns to the receptive field (see :func:`receptive_field`).
    """
    n_in, n_out = kernels.shape[2], kernels.shape[3]
    first = n_in in (1, 3)
    kpic = kernel_picture(kernels, channel=channel)
    title = (
        f"{layer}: {n_out} kernels {kernels.shape[0]}x{kernels.shape[1]}"
        if first
        else f"{layer}: filter {channel}, kernel per input channel ({n_in})"
    )
    panels = [_render.titled(kpic, title)]
    if pattern is not None:
        where = "" if box is None else f" ({box[1] - box[0]}x{box[3] - box[2]} px it sees)"
        panels.append(
            _render.titled(
                pattern_picture(pattern, cmap=cmap, box=box), f"filter {channel} likes{where}"
            )
        )
    else:
        panels.append(
            _render.titled(
                _render.placeholder(160, 160, ["not computed yet:", "press 'Maximise'"]),
                f"filter {channel} likes",
            )
        )
    top = _render.hstack(panels)
    if all_patterns is None:
        return _render.border(top)
    tiles = []
    for p in all_patterns:
        pic = pattern_picture(p, size=56, cmap=cmap, box=box)
        tiles.append(pic)
    h = max(t.shape[0] for t in tiles)
    w = max(t.shape[1] for t in tiles)
    tiles = np.stack([_render.resize(t, w, h) for t in tiles])
    cols = min(len(tiles), max(1, top.shape[1] // (w + 2)))
    grid = _render.grid(tiles, cols=cols, highlight=channel, pad=2)
    bottom = _render.titled(grid, f"what each of the {len(tiles)} filters of {layer} likes")
    return _render.border(_render.vstack([top, bottom]))


def plot_filters(
    model: Any,
    *,
    layer: Any = None,
    channel: int = 0,
    maximize: bool = True,
    steps: int = STEPS,
    step_size: float = STEP_SIZE,
    l2: float = L2,
    objective: str = "center",
    input_shape: Sequence[int] | None = None,
):
    """The filter explorer's picture as a matplotlib Figure (all filters' patterns if `maximize`).

    Arguments mean the same as in :class:`FilterExplorer`.
    """
    name = resolve_conv_layer(model, layer, "plot_filters", input_shape)
    kernels = conv_kernels(model, name)
    check_index(
        channel,
        kernels.shape[-1],
        name="channel",
        what=f"layer {name!r} has {kernels.shape[-1]} filters",
    )
    patterns = None
    if maximize:
        patterns = maximize_activation(
            model, name, list(range(min(kernels.shape[-1], 64))), steps=steps,
            step_size=step_size, l2=l2, objective=objective, input_shape=input_shape,
        )  # fmt: skip
    box = receptive_field(model, name, input_shape=input_shape) if objective == "center" else None
    img = filters_picture(
        kernels, layer=name, channel=channel, box=box,
        pattern=None if patterns is None or channel >= len(patterns) else patterns[channel],
        all_patterns=patterns,
    )  # fmt: skip
    return _render.as_figure(img, title=f"{model.name}: {name}")


class FilterExplorer(Explorer):
    """Pick a Conv2D layer and a filter; see its raw kernels and the input it likes most.

    Displays itself: a layer ``Dropdown`` (Conv2D layers only), a filter ``IntSlider``,
    sliders for the gradient ascent (steps, step size, L2 regularisation), a ``Button``
    that computes every filter of the layer at once, a progress line and the picture.
    Changing the filter computes its pattern (a fraction of a second for a small
    convnet, cached afterwards).

    Args:
        model: a built Keras model with at least one Conv2D layer.
        layer: Conv2D layer name or object. Defaults to the first Conv2D layer.
        channel: which filter. Defaults to `0`.
        maximize: compute patterns when a filter is chosen (False: kernels only, patterns
            on the button). Defaults to `True`.
        steps, step_size, l2, objective: gradient ascent settings, see
            :func:`maximize_activation`.
        input_shape: one sample's shape, only for a subclassed model built without one.

    Example:
        >>> FilterExplorer(model, layer="conv1")   # doctest: +SKIP
    """

    dom_class = "kc-filter-explorer"

    def __init__(
        self,
        model: Any,
        *,
        layer: Any = None,
        channel: int = 0,
        maximize: bool = True,
        steps: int = STEPS,
        step_size: float = STEP_SIZE,
        l2: float = L2,
        objective: str = "center",
        input_shape: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.maximize = maximize
        self.objective = objective
        self.input_shape = input_shape
        self.layers = conv_layer_names(model, input_shape=input_shape)
        self._layer = resolve_conv_layer(model, layer, "FilterExplorer", input_shape)
        self._kernels = conv_kernels(model, self._layer)
        self._channel = check_index(
            channel, self._kernels.shape[-1], name="channel", what=self._what()
        )
        self._settings = {"steps": int(steps), "step_size": float(step_size), "l2": float(l2)}
        self._all: dict[tuple, np.ndarray] = {}
        self._build()

    def _what(self) -> str:
        return f"layer {self._layer!r} has {self._kernels.shape[-1]} filters"

    def _layout(self) -> list[Any]:
        import ipywidgets as w

        s = self._settings
        layer = w.Dropdown(options=self.layers, value=self._layer, description="layer")
        channel = w.IntSlider(value=self._channel, min=0, max=self._kernels.shape[-1] - 1,
                              description="filter", continuous_update=False)  # fmt: skip
        steps = w.IntSlider(
            value=s["steps"], min=1, max=200, description="steps", continuous_update=False
        )
        step_size = w.FloatLogSlider(value=s["step_size"], base=10, min=-3, max=0, step=0.25,
                                     description="step size", continuous_update=False)  # fmt: skip
        l2 = w.FloatLogSlider(value=max(s["l2"], 1e-4), base=10, min=-4, max=-0.5, step=0.25,
                              description="L2 reg.", continuous_update=False)  # fmt: skip
        button = w.Button(
            description="Maximise all filters",
            tooltip="gradient ascent for every filter of this layer",
        )
        self.status = w.HTML(value="")
        self.controls = {"layer": layer, "channel": channel, "steps": steps,
                         "step_size": step_size, "l2": l2, "all": button}  # fmt: skip
        self._observe(layer, self._on_layer)
        self._observe(channel, self._on_channel)
        for key in ("steps", "step_size", "l2"):
            self._observe(self.controls[key], self._on_setting(key))
        button.on_click(lambda _: self.maximize_all())
        return [
            w.HBox([layer, channel]),
            w.HBox([steps, step_size, l2]),
            w.HBox([button, self.status]),
        ]

    # -- events -------------------------------------------------------------------------
    def _on_layer(self, change: dict[str, Any]) -> None:
        self._layer = change["new"]
        self._kernels = conv_kernels(self.model, self._layer)
        self._channel = min(self._channel, self._kernels.shape[-1] - 1)
        self._set_quietly(
            self.controls["channel"], max=self._kernels.shape[-1] - 1, value=self._channel
        )
        self.refresh()

    def _on_channel(self, change: dict[str, Any]) -> None:
        self._channel = int(change["new"])
        self.refresh()

    def _on_setting(self, key: str):
        def handler(change: dict[str, Any]) -> None:
            self._settings[key] = type(self._settings[key])(change["new"])
            self.refresh()

        return handler

    def _progress(self, label: str):
        def report(step: int, total: int) -> None:
            if self.status is not None and (step == total or step % 5 == 0):
                done = int(20 * step / total)
                bar = "&#9608;" * done + "&#9617;" * (20 - done)
                self.status.value = f"<code>{bar}</code> {label}: step {step}/{total}"

        return report

    def _key(self) -> tuple:
        s = self._settings
        return (self._layer, s["steps"], s["step_size"], s["l2"], weights_key(self.model))

    def pattern(self, *, compute: bool = True) -> np.ndarray | None:
        """The chosen filter's maximised input (computed now if needed and `compute`)."""
        every = self._all.get(self._key())
        if every is not None and self._channel < len(every):
            return every[self._channel]
        if not compute:
            return cached_pattern(
                self.model, self._layer, self._channel, **self._settings, objective=self.objective
            )
        return maximize_activation(
            self.model, self._layer, self._channel, **self._settings, objective=self.objective,
            input_shape=self.input_shape, progress=self._progress(f"filter {self._channel}"),
        )  # fmt: skip

    def maximize_all(self) -> np.ndarray:
        """Compute every filter's pattern of the current layer (what the button does)."""
        count = min(self._kernels.shape[-1], 64)
        every = maximize_activation(
            self.model, self._layer, list(range(count)), **self._settings, objective=self.objective,
            input_shape=self.input_shape, progress=self._progress(f"all {count} filters"),
        )  # fmt: skip
        self._all[self._key()] = every
        self.refresh()
        return every

    def render(self) -> np.ndarray:
        pattern = self.pattern(compute=self.maximize)
        if self.status is not None and pattern is not None:
            self.status.value = ""
        box = None
        if self.objective == "center":
            box = receptive_field(self.model, self._layer, input_shape=self.input_shape)
        return filters_picture(
            self._kernels, layer=self._layer, channel=self._channel, box=box,
            pattern=pattern, all_patterns=self._all.get(self._key()),
        )  # fmt: skip

    # -- state as plain attributes --------------------------------------------------------
    @property
    def layer(self) -> str:
        """The Conv2D layer shown (setting it is the same as choosing it in the Dropdown)."""
        return self._layer

    @layer.setter
    def layer(self, value: Any) -> None:
        self.controls["layer"].value = resolve_conv_layer(
            self.model, value, "FilterExplorer", self.input_shape
        )

    @property
    def channel(self) -> int:
        """The chosen filter."""
        return self._channel

    @channel.setter
    def channel(self, value: int) -> None:
        self.controls["channel"].value = check_index(
            value, self._kernels.shape[-1], name="channel", what=self._what()
        )

    @property
    def kernels(self) -> np.ndarray:
        """Raw kernels of the shown layer, ``(height, width, in_channels, filters)``."""
        return self._kernels

    def __repr__(self) -> str:
        return f"FilterExplorer(model={self.model.name!r}, layer={self._layer!r}, channel={self._channel})"
