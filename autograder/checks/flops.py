"""FLOPs: the per-layer formulas, the exact count of one forward pass, and the FLOPs budget.

Why FLOPs: like parameters they are exact and machine-independent, so a budget gives the
same verdict on a laptop, CI, Colab and a GPU.

FLOPs convention (documented once, used everywhere): one forward pass, batch size 1;
a multiply-add is 2 FLOPs; a bias add, an elementwise add/multiply/compare and an
activation are 1 FLOP per element, whatever the activation function (``linear`` is 0);
copies and lookups (Flatten, Reshape, Dropout at inference, padding, cropping,
Concatenate, Embedding) are 0. Formulas per layer are in :func:`_layer_flops`.

Importing this module imports no Keras.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kerascourse.autograder.checks.keras_utils import (
    Shape,
    class_of,
    describe_layer,
    find_layer,
    finish,
    fmt_int,
    fmt_shape,
    graph_of,
    import_keras,
    is_model,
    prod,
    require_model,
    shrink_advice,
    upper_first,
)
from kerascourse.autograder.core.results import (
    ArchitectureError,
    BudgetExceededError,
    CheckResult,
    GraderBugError,
)

__all__ = [
    "ZERO_COST_LAYERS",
    "check_flops",
    "count_flops",
    "flops_by_layer",
    "flops_hotspot",
]


#: Layers that only copy, reshape, look up or are the identity at inference: 0 FLOPs.
ZERO_COST_LAYERS = frozenset(
    {
        "InputLayer",
        "Flatten",
        "Reshape",
        "Permute",
        "RepeatVector",
        "Dropout",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "SpatialDropout3D",
        "GaussianDropout",
        "GaussianNoise",
        "AlphaDropout",
        "ActivityRegularization",
        "Identity",
        "Masking",
        "ZeroPadding1D",
        "ZeroPadding2D",
        "ZeroPadding3D",
        "Cropping1D",
        "Cropping2D",
        "Cropping3D",
        "UpSampling1D",
        "UpSampling2D",
        "UpSampling3D",
        "Concatenate",
        "Embedding",
    }
)

_ACTIVATION_LAYERS = frozenset({"Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax"})
_CONV = frozenset({"Conv1D", "Conv2D", "Conv3D"})
_CONV_T = frozenset({"Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"})
_DEPTHWISE = frozenset({"DepthwiseConv1D", "DepthwiseConv2D"})
_SEPARABLE = frozenset({"SeparableConv1D", "SeparableConv2D"})
_POOL = frozenset({f"{kind}Pooling{d}D" for kind in ("Max", "Average") for d in (1, 2, 3)})
_GLOBAL_POOL = frozenset(
    {f"Global{kind}Pooling{d}D" for kind in ("Max", "Average") for d in (1, 2, 3)}
)
_MERGE_PAIRWISE = frozenset({"Add", "Subtract", "Multiply", "Maximum", "Minimum"})
_RNN = frozenset({"SimpleRNN", "GRU", "LSTM"})


def _known(shape: Shape, layer: Any, what: str) -> Shape:
    """Refuse a dimension of unknown size: FLOPs need fixed shapes."""
    if any(d is None for d in shape):
        result = CheckResult(
            check="flops",
            passed=False,
            measured=f"{what} of layer '{layer.name}' has shape {fmt_shape(shape)}",
            allowed="fixed sizes in every dimension but the batch",
            advice="Give keras.Input a fixed shape (e.g. sequence length) so that the FLOPs "
            "of one forward pass are defined.",
        )
        raise ArchitectureError(result)
    return shape


def _activation_cost(layer: Any, elements: int) -> int:
    """1 FLOP per element for a fused non-linear ``activation=``, 0 for linear/none."""
    name = layer.get_config().get("activation")
    return 0 if name in (None, "linear") else elements


def _rnn_step(cls: str, layer: Any, features: int) -> int:
    """FLOPs of one timestep of a SimpleRNN/GRU/LSTM cell (units u, input features F).

    SimpleRNN: xW + hU (2u(F+u)) + bias (u) + add (u) + activation (u).
    LSTM: 4 gates: 8u(F+u) + bias 4u + add 4u; sigmoids 3u + tanh u; c = f*c + i*g (3u);
    h = o*tanh(c) (2u) -> 8u(F+u) + 17u (13u without bias).
    GRU (reset_after=True, Keras default): 6u(F+u) + input and recurrent biases 6u;
    z, r: add 2u + sigmoid 2u; candidate: r*h_h, add, tanh (3u); h = z*h + (1-z)*hh (4u)
    -> 6u(F+u) + 17u (11u without bias). reset_after=False: one bias (3u), r*h (u) before
    its matmul, add + tanh (2u), z, r add + sigmoid (4u), output 4u -> 6u(F+u) + 14u.
    """
    cfg = layer.get_config()
    u = int(cfg["units"])
    bias = bool(cfg.get("use_bias", True))
    if cls == "SimpleRNN":
        return 2 * u * (features + u) + (u if bias else 0) + u + _activation_cost(layer, u)
    if cls == "LSTM":
        return 8 * u * (features + u) + (4 * u if bias else 0) + 13 * u
    if cfg.get("reset_after", True):
        return 6 * u * (features + u) + (6 * u if bias else 0) + 11 * u
    return 6 * u * (features + u) + (3 * u if bias else 0) + 11 * u


def _layer_flops(layer: Any, in_shapes: list[Shape], out_shapes: list[Shape]) -> int | None:
    """FLOPs of one call of a built-in layer at batch 1 (shapes without the batch dim).

    Returns None for a class without a formula (the caller decides: zero-cost or our bug).
    """
    cls = class_of(layer)
    if cls in ZERO_COST_LAYERS:
        return 0
    out = _known(out_shapes[0], layer, "the output") if out_shapes else ()
    out_n = prod(out)
    x = _known(in_shapes[0], layer, "the input") if in_shapes else ()
    if cls == "Dense":
        # Dense acts on the last axis; every leading position is one matrix-vector product.
        units = int(out[-1])
        positions = prod(out[:-1])
        bias = units if layer.get_config().get("use_bias", True) else 0
        per = 2 * int(x[-1]) * units + bias + _activation_cost(layer, units)
        return positions * per
    if cls in _CONV:
        # kernel (*k, C_in / groups, C_out): each output element is one window dot product.
        kernel = tuple(layer.kernel.shape)
        macs = prod(kernel[:-1]) * out_n
        bias = out_n if layer.get_config().get("use_bias", True) else 0
        return 2 * macs + bias + _activation_cost(layer, out_n)
    if cls in _CONV_T:
        # kernel (*k, C_out, C_in): every input element is scattered into a k x C_out window.
        kernel = tuple(layer.kernel.shape)
        macs = prod(x) * prod(kernel[:-1])
        bias = out_n if layer.get_config().get("use_bias", True) else 0
        return 2 * macs + bias + _activation_cost(layer, out_n)
    if cls in _DEPTHWISE:
        # kernel (*k, C_in, multiplier): each output element is a k-window on one channel.
        kernel = tuple(layer.kernel.shape)
        bias = out_n if layer.get_config().get("use_bias", True) else 0
        return 2 * prod(kernel[:-2]) * out_n + bias + _activation_cost(layer, out_n)
    if cls in _SEPARABLE:
        depth = tuple(layer.depthwise_kernel.shape)  # (*k, C_in, multiplier)
        point = tuple(layer.pointwise_kernel.shape)  # (*1, C_in * multiplier, C_out)
        c_mid, c_out = int(point[-2]), int(point[-1])
        positions = out_n // c_out
        macs = prod(depth[:-2]) * positions * c_mid + positions * c_mid * c_out
        bias = out_n if layer.get_config().get("use_bias", True) else 0
        return 2 * macs + bias + _activation_cost(layer, out_n)
    if cls == "BatchNormalization":
        # Inference: the statistics fold into one scale and one shift per channel.
        return 2 * prod(x)
    if cls == "LayerNormalization":
        # mean, subtract, square, variance sum, normalise, scale, shift: 7 per element.
        return 7 * prod(x)
    if cls in {"Rescaling", "Normalization"}:
        return 2 * prod(x)
    if cls in _POOL:
        # one compare (max) or add (average) per window element per output element.
        return prod(layer.get_config()["pool_size"]) * out_n
    if cls in _GLOBAL_POOL:
        return prod(x)
    if cls in _ACTIVATION_LAYERS:
        return 0 if layer.get_config().get("activation") == "linear" else out_n
    if cls in _MERGE_PAIRWISE:
        return (len(in_shapes) - 1) * out_n
    if cls == "Average":
        return len(in_shapes) * out_n
    if cls in _RNN:
        steps, features = int(x[0]), int(x[-1])
        return steps * _rnn_step(cls, layer, features)
    if cls == "Bidirectional":
        # Two RNNs over the same input; "concat" merges for free, others 1 per element.
        merge = layer.get_config().get("merge_mode", "concat")
        merge_cost = 0 if merge in ("concat", None) else out_n
        inner = [layer.forward_layer, layer.backward_layer]
        costs = [_layer_flops(rnn, in_shapes, out_shapes) for rnn in inner]
        if any(c is None for c in costs):
            return None
        return sum(c for c in costs if c is not None) + merge_cost
    if cls == "TimeDistributed":
        steps = int(x[0])
        inner = _layer_flops(layer.layer, [x[1:]], [out[1:]])
        return None if inner is None else steps * inner
    return None


def _shapes(tensors: Any) -> list[Shape]:
    keras = import_keras()
    return [tuple(t.shape)[1:] for t in keras.tree.flatten(tensors)]


def flops_by_layer(model: Any, *, zero_cost: Iterable[str] = ()) -> dict[str, int]:
    """FLOPs of one forward pass at batch 1, per layer (all calls of a shared layer summed).

    Keys are layer paths (``block/conv2d`` inside a nested model). A nested model is
    recursed into and counted once per call. Shapes come from the graph (``layer.input`` /
    ``layer.output`` KerasTensors, and the config for further calls of shared layers).

    Args:
        model: a functional or Sequential model (subclassed models have no graph).
        zero_cost: extra layer class names to count as 0 FLOPs. Defaults to `()`.

    Raises:
        GraderBugError: a layer class has no formula and is not zero-cost (we must add it).
        ArchitectureError: a subclassed model, or a shape with an unknown dimension.
    """
    require_model(model, "flops")
    graph = graph_of(model, "flops")
    free = ZERO_COST_LAYERS | frozenset(zero_cost)
    result: dict[str, int] = {}
    for name in graph.order:
        if graph.classes[name] == "InputLayer":
            continue
        layer = model.get_layer(name)
        calls = graph.calls.get(name) or [[]]
        if is_model(layer):
            inner = flops_by_layer(layer, zero_cost=zero_cost)
            for path, flops in inner.items():
                result[f"{name}/{path}"] = flops * len(calls)
            continue
        first_in = _shapes(layer.input)
        first_out = _shapes(layer.output)
        total = 0
        for call in calls:
            in_shapes = [tuple(s)[1:] for s in call] if call else first_in
            out_shapes = first_out
            if in_shapes != first_in:
                spec = layer.compute_output_shape(*[(None, *s) for s in in_shapes])
                out_shapes = _shapes_from_spec(spec)
            flops = _layer_flops(layer, in_shapes, out_shapes)
            if flops is None:
                if class_of(layer) in free:
                    flops = 0
                else:
                    msg = (
                        f"count_flops has no FLOPs formula for layer class "
                        f"'{class_of(layer)}' (layer '{name}'). This is a grader "
                        "limitation, not your mistake: add a formula in "
                        "kerascourse.autograder.checks.flops or pass zero_cost="
                        f"['{class_of(layer)}'] if it really costs nothing."
                    )
                    raise GraderBugError(msg)
            total += flops
        result[name] = total
    return result


def _shapes_from_spec(spec: Any) -> list[Shape]:
    """Shapes (batch dim dropped) from ``compute_output_shape`` (a tuple or a nest of them)."""
    if isinstance(spec, tuple) and all(d is None or isinstance(d, int) for d in spec):
        return [tuple(spec)[1:]]
    return [s for item in spec for s in _shapes_from_spec(item)]


def count_flops(model: Any, *, zero_cost: Iterable[str] = ()) -> int:
    """Exact FLOPs of one forward pass at batch 1 (multiply-add = 2; see module docstring)."""
    return sum(flops_by_layer(model, zero_cost=zero_cost).values())


def flops_hotspot(model: Any, by_layer: dict[str, int]) -> str:
    """Advice naming the costliest layer, e.g. "the Conv2D(128) 'conv2d' on 28x28 inputs
    costs 62% of the FLOPs: ...".

    Public because the time-ratio check (``timing``) gives the same advice.
    """
    total = sum(by_layer.values())
    if not total:
        return ""
    path = max(by_layer, key=lambda p: by_layer[p])
    layer = find_layer(model, path)
    text = upper_first(describe_layer(model, path))
    try:
        shape = _shapes(layer.input)[0]
    except (AttributeError, ValueError, IndexError):
        shape = ()
    if len(shape) == 3:
        text = text.removesuffix(" on the input") + f" on {shape[0]}x{shape[1]} inputs"
    share = by_layer[path] / total
    return f"{text} costs {share:.0%} of the FLOPs: {shrink_advice(class_of(layer), 'flops')}."


def check_flops(
    model: Any, max_flops: int, *, zero_cost: Iterable[str] = (), raise_on_fail: bool = True
) -> CheckResult:
    """Check the FLOPs of one forward pass (batch 1) against a budget."""
    by_layer = flops_by_layer(model, zero_cost=zero_cost)
    n = sum(by_layer.values())
    details = {"flops": n, "max_flops": max_flops, "by_layer": by_layer}
    allowed = f"at most {fmt_int(max_flops)} FLOPs"
    measured = f"{fmt_int(n)} FLOPs per example"
    if n <= max_flops:
        return CheckResult("flops", True, measured, allowed, "", details)
    advice = f"Your model is {n / max_flops:.1f}x over the budget. {flops_hotspot(model, by_layer)}"
    result = CheckResult("flops", False, measured, allowed, advice.strip(), details)
    return finish(result, raise_on_fail, BudgetExceededError)
