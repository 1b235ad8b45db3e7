"""Reaching inside any Keras 3 model: layer names, one multi-output extractor, input checks.

Why a module: every explorer needs "the outputs of every layer for this input", and Keras 3
has traps on the way (DESIGN.md, "Widgets"): a Sequential model without ``Input`` has no
inputs until built or called; ``seq.input`` raises (use ``model.inputs[0]``); subclassed
models have no ``layer.output``; layers inside a nested model are wired to the *inner*
model's input. So the graph is read once per model here, nested models are expanded by
calling an extractor of the inner model on the outer graph's tensor (which adds no nodes
to the learner's layers), subclassed models are replayed layer by layer on a fresh
``keras.Input`` and accepted only if the replay reproduces ``model(x)``.

One :class:`ActivationExtractor` per model (weakly cached) holds one multi-output
``keras.Model``; its results are cached per (input, weights), so switching layers or
channels in an explorer never recomputes the forward pass.
"""

from __future__ import annotations

import difflib
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._cache import EMBEDDINGS, LRU, PATTERNS, array_key, weights_key

_EXTRACTORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def model_label(model: Any) -> str:
    """``'name'`` quoted, for messages."""
    return repr(getattr(model, "name", type(model).__name__))


def check_model(model: Any, who: str) -> None:
    """Raise a clear error unless `model` is a built Keras model."""
    import keras

    if not isinstance(model, keras.Model):
        msg = (
            f"{who} needs a Keras model (keras.Model or keras.Sequential). "
            f"Received: model of type {type(model).__module__}.{type(model).__name__}."
        )
        raise TypeError(msg)
    if not model.built:
        msg = (
            f"{who} needs a built model, but {model_label(model)} has not been built. "
            "Call model.build(input_shape) or model(x_train[:1]) first."
        )
        raise ValueError(msg)


def _graph(model: Any) -> Any:
    """The Functional graph behind a model, or None for a subclassed model."""
    import keras

    if isinstance(model, keras.Sequential):
        return getattr(model, "_functional", None)
    if hasattr(model, "_nodes_by_depth") and hasattr(model, "_run_through_graph"):
        return model
    return None


def _node_in(graph: Any, layer: Any) -> Any:
    """The node where `layer` is called inside `graph` (first one for a shared layer)."""
    for depth in sorted(graph._nodes_by_depth, reverse=True):
        for node in graph._nodes_by_depth[depth]:
            if node.operation is layer:
                return node
    return layer._inbound_nodes[0] if layer._inbound_nodes else None


def _collect(model: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """(qualified name, layer, symbolic output) for every layer of a graph model, in order.

    A nested graph model contributes its own layers as ``outer/inner_layer`` (expanded
    through an extractor of the inner model called on the outer graph's tensor) followed
    by its output under its own name.
    """
    import keras

    graph = _graph(model)
    entries: list[tuple[str, Any, Any]] = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        node = _node_in(graph, layer)
        if node is None or len(node.output_tensors) != 1:
            continue  # never called in this graph, or several outputs: nothing to draw
        name = prefix + layer.name
        inner = _graph(layer) if isinstance(layer, keras.Model) else None
        if inner is not None and len(inner.inputs) == 1 and len(node.input_tensors) == 1:
            inner_entries = _collect(layer, prefix=name + "/")
            if inner_entries:
                sub = keras.Model(
                    inner.inputs[0], [t for _, _, t in inner_entries], name=f"{layer.name}_parts"
                )
                mapped = sub(node.input_tensors[0])
                mapped = mapped if isinstance(mapped, (list, tuple)) else [mapped]
                entries += [
                    (n, lay, t) for (n, lay, _), t in zip(inner_entries, mapped, strict=True)
                ]
        entries.append((name, layer, node.output_tensors[0]))
    return entries


def built_input_shape(model: Any) -> tuple | None:
    """One sample's input shape as recorded when a subclassed model was built, if any."""
    shapes = getattr(model, "_build_shapes_dict", None) or {}
    for shape in shapes.values():
        if isinstance(shape, (tuple, list)) and len(shape) >= 2:
            return tuple(shape[1:])
    return None


def _subclassed_input_shape(model: Any, sample: np.ndarray | None) -> tuple:
    shape = built_input_shape(model)
    if shape is not None:
        return shape
    if sample is not None:
        return tuple(sample.shape[1:])
    msg = (
        f"Cannot tell the input shape of the subclassed model {model_label(model)}. "
        "Pass an input (for example x_train[:1]) or input_shape=(28, 28, 1)."
    )
    raise ValueError(msg)


def _replay_subclassed(model: Any, sample: np.ndarray | None, input_shape: tuple | None) -> Any:
    """A functional copy of a subclassed model, if its layers form a plain chain."""
    import keras

    shape = (
        tuple(input_shape) if input_shape is not None else _subclassed_input_shape(model, sample)
    )
    fix = (
        "Write it with the functional API (keras.Model(inputs, outputs)) or as a "
        "keras.Sequential, or look inside one of its layers that is a functional model."
    )
    if not model.layers:
        msg = f"The subclassed model {model_label(model)} has no layers to look inside. {fix}"
        raise ValueError(msg)
    try:
        inputs = keras.Input(shape=shape, name=f"{model.name}_input")
        t = inputs
        for layer in model.layers:
            t = layer(t)
        chain = keras.Model(inputs, t, name=f"{model.name}_chain")
    except Exception as exc:  # noqa: BLE001 - any failure means "not a plain chain"
        msg = (
            f"{model_label(model)} is a subclassed model and calling its layers one after "
            f"the other (model.layers in order) fails ({type(exc).__name__}), so its "
            f"intermediate outputs cannot be reached. {fix}"
        )
        raise ValueError(msg) from None
    probe = sample[:2] if sample is not None and None not in shape else None
    if probe is None:
        if None in shape:
            msg = f"Pass an input to check the subclassed model {model_label(model)}; its input shape {shape} is not fixed."
            raise ValueError(msg)
        probe = np.random.default_rng(0).random((2, *shape), dtype=np.float32)
    from keras import ops

    want = ops.convert_to_numpy(model(probe, training=False))
    got = ops.convert_to_numpy(chain(probe, training=False))
    if want.shape != got.shape or not np.allclose(want, got, rtol=1e-4, atol=1e-5):
        msg = (
            f"{model_label(model)} is a subclassed model whose call() is not a plain chain "
            "of its layers: running model.layers in order does not reproduce model(x), so "
            f"its intermediate outputs cannot be reached. {fix}"
        )
        raise ValueError(msg)
    return chain


class ActivationExtractor:
    """Every layer's output for an input, from one multi-output model built once.

    Attributes:
        names: qualified layer names in forward order (``"block/conv"`` inside nested models).
        layers: name -> layer object.
        input_shape: shape of one sample (no batch axis); ``None`` marks a free size.
        forward_passes: how many times the multi-output model has run (tests count it).
    """

    def __init__(self, model: Any, *, sample: np.ndarray | None = None, input_shape=None) -> None:
        import keras

        self.model_name = model.name
        graph = _graph(model)
        if graph is None:
            graph = _replay_subclassed(model, sample, input_shape)
        if len(graph.inputs) != 1:
            names = [getattr(t, "name", "?") for t in graph.inputs]
            msg = (
                f"The explorers look at models with one input; {model_label(model)} has "
                f"{len(graph.inputs)} inputs {names}. Build a one-input sub-model, e.g. "
                "keras.Model(model.inputs[0], model.get_layer(NAME).output)."
            )
            raise ValueError(msg)
        entries = _collect(graph)
        self.names: list[str] = [n for n, _, _ in entries]
        self.layers: dict[str, Any] = {n: lay for n, lay, _ in entries}
        self._tensors = {n: t for n, _, t in entries}
        self._input = graph.inputs[0]
        self.input_shape: tuple = tuple(self._input.shape[1:])
        self.input_dtype = getattr(self._input, "dtype", "float32")
        self.extractor = keras.Model(
            self._input, [t for _, _, t in entries], name=f"{model.name}_activations"
        )
        self.signature = _signature(model)
        self.forward_passes = 0
        self._cache = LRU(maxsize=8)
        self._feature_models: dict[str, Any] = {}
        self._features = LRU(maxsize=4)

    def output_shape(self, name: str) -> tuple:
        """Output shape of one layer for one sample (no batch axis)."""
        return tuple(self._tensors[name].shape[1:])

    def activations(self, model: Any, batch: np.ndarray) -> dict[str, np.ndarray]:
        """name -> output array for a batch, from the cache when input and weights match."""
        from keras import ops

        key = (array_key(batch), weights_key(model))
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        outputs = self.extractor(batch, training=False)
        self.forward_passes += 1
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        result = {n: ops.convert_to_numpy(o) for n, o in zip(self.names, outputs, strict=True)}
        return self._cache.put(key, result)

    def feature_model(self, name: str) -> Any:
        """A one-output model up to layer `name`, sharing the extractor's graph."""
        import keras

        if name not in self._feature_models:
            self._feature_models[name] = keras.Model(
                self._input, self._tensors[name], name=f"{self.model_name}_{name.replace('/', '_')}"
            )
        return self._feature_models[name]

    def features(
        self, model: Any, x: np.ndarray, name: str, batch_size: int = 256, x_key: str | None = None
    ) -> np.ndarray:
        """Layer `name`'s outputs for all of `x`, flattened to ``(n, features)``.

        `x_key` is ``array_key(x)`` when the caller already has it (hashing is the slow part).
        """
        from keras import ops

        key = (name, x_key or array_key(x), weights_key(model))
        hit = self._features.get(key)
        if hit is not None:
            return hit
        sub = self.feature_model(name)
        parts = []
        for start in range(0, len(x), batch_size):
            out = ops.convert_to_numpy(sub(x[start : start + batch_size], training=False))
            parts.append(out.reshape(len(out), -1))
        self.forward_passes += 1
        feats = np.concatenate(parts).astype(np.float32, copy=False)
        return self._features.put(key, feats)


def _signature(model: Any) -> tuple:
    return tuple(id(layer) for layer in model.layers)


def activation_extractor(
    model: Any,
    *,
    who: str = "activation_extractor",
    sample: np.ndarray | None = None,
    input_shape: Sequence[int | None] | None = None,
) -> ActivationExtractor:
    """The (cached) :class:`ActivationExtractor` of `model`; rebuilt if its layers changed.

    Args:
        model: a built Keras model (Sequential, functional, nested or subclassed).
        who: the caller's name, for error messages. Defaults to `"activation_extractor"`.
        sample: a batch of inputs, used to check a subclassed model's replay.
        input_shape: one sample's shape, for a subclassed model without `sample`.
    """
    check_model(model, who)
    found = _EXTRACTORS.get(model)
    if found is None or found.signature != _signature(model):
        found = ActivationExtractor(model, sample=sample, input_shape=input_shape)
        _EXTRACTORS[model] = found
    return found


def clear_caches() -> None:
    """Forget extractors, cached activations, patterns and in-memory embeddings.

    Frees memory; never needed for correctness (caches are keyed by input and weights).
    The disk cache of t-SNE results is kept.
    """
    _EXTRACTORS.clear()
    PATTERNS.clear()
    EMBEDDINGS.clear()


def layer_names(model: Any) -> list[str]:
    """Names the explorers accept for `model`, in forward order (nested: ``"outer/inner"``)."""
    return list(activation_extractor(model, who="layer_names").names)


def resolve_layer(extractor: ActivationExtractor, layer: Any) -> str:
    """A valid qualified layer name from a name or a layer object, else a clear error."""
    names = extractor.names
    if layer is not None and not isinstance(layer, str):
        for n in names:
            if extractor.layers[n] is layer:
                return n
        shown = getattr(layer, "name", repr(layer))
        msg = (
            f"Layer {shown!r} is not part of model {extractor.model_name!r}. "
            f"Valid layer names: {names}. Received: layer={shown!r}."
        )
        raise ValueError(msg)
    if layer in names:
        return layer
    close = difflib.get_close_matches(str(layer), names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    msg = (
        f"Layer {layer!r} not found in model {extractor.model_name!r}. "
        f"Valid layer names: {names}. Received: layer={layer!r}.{hint}"
    )
    raise ValueError(msg)


def prepare(model: Any, x: Any, who: str) -> tuple[ActivationExtractor, np.ndarray]:
    """The model's extractor and `x` as a checked batch (one sample gets a batch axis)."""
    check_model(model, who)
    x = to_numpy(x)
    sample = None
    if _graph(model) is None:  # subclassed: the replay is checked on this input
        shape = built_input_shape(model)
        sample = x[None] if shape is not None and _shape_matches(x.shape, shape) else x
        if x.dtype == np.float64:
            sample = sample.astype(np.float32)
    extractor = activation_extractor(model, who=who, sample=sample)
    return extractor, as_batch(x, extractor.input_shape, who=who, model_name=model.name)


def _shape_matches(shape: tuple, expected: tuple) -> bool:
    return len(shape) == len(expected) and all(
        e is None or s == e for s, e in zip(shape, expected, strict=True)
    )


def _fmt(shape: Sequence[int | None]) -> str:
    inner = ", ".join("?" if d is None else str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def to_numpy(x: Any) -> np.ndarray:
    """An array from numpy data, a list or a backend tensor."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "numpy") or type(x).__module__.split(".")[0] in {
        "tensorflow",
        "jax",
        "torch",
        "jaxlib",
    }:
        from keras import ops

        return ops.convert_to_numpy(x)
    return np.asarray(x)


def as_batch(x: Any, expected: tuple, *, who: str, model_name: str) -> np.ndarray:
    """`x` as a batch matching one sample's `expected` shape, or a clear error."""
    x = to_numpy(x)
    if x.dtype == np.float64:
        x = x.astype(np.float32)
    expected = tuple(expected)
    if _shape_matches(x.shape, expected):
        return x[None]
    if x.ndim == len(expected) + 1 and _shape_matches(x.shape[1:], expected):
        if len(x) == 0:
            msg = f"{who} got an empty batch (shape {x.shape}); pass at least one sample."
            raise ValueError(msg)
        return x
    hint = ""
    if expected and expected[-1] == 1 and _shape_matches((*x.shape, 1)[-len(expected) :], expected):
        hint = " Add the channel axis with x[..., None] (or np.expand_dims(x, -1))."
    elif None not in expected and x.size and x.size % int(np.prod(expected)) == 0:
        hint = f" Reshape it with x.reshape(-1, {', '.join(str(d) for d in expected)})."
    msg = (
        f"{who} got an input of shape {x.shape}, but model {model_name!r} expects samples "
        f"of shape {_fmt(expected)}: a batch of shape {_fmt((None, *expected))} or one "
        f"sample of shape {_fmt(expected)}.{hint}"
    )
    raise ValueError(msg)


def check_index(value: Any, size: int, *, name: str, what: str) -> int:
    """`value` as a valid index below `size`, else a clear error.

    `what` completes the sentence "but ...", e.g. "layer 'conv1' has 16 channels".
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        msg = f"{name} must be an integer. Received: {name}={value!r}."
        raise TypeError(msg)
    if not 0 <= value < size:
        msg = f"Received {name}={value}, but {what}, so valid values are 0 to {size - 1}."
        raise ValueError(msg)
    return int(value)
