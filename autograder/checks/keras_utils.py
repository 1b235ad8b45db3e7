"""Reading a Keras 3 model's structure with public API only: layers, calls and edges.

Why a module of its own: the architecture, budget and quality checks all need the same
facts (which layers, in which order, called how often, fed by which layers, on which
shapes) and must read them the same way. Keras 3 keeps the call graph in private
attributes (``_inbound_nodes``, ``_outbound_nodes``) that change between releases, so we
read it from ``model.get_config()``: for a functional model every layer entry lists its
``inbound_nodes``, one per call inside this model, and each argument tensor there carries
its ``shape`` and ``keras_history`` = ``[producing layer, node index, tensor index]``.
That config is the same public, versioned format ``model.to_json()`` writes, so the
trusted grader (which only has the JSON) and the in-kernel self-check see one graph.

It also holds :func:`finish`, the one way every check returns or raises its result, so
the check modules share it without importing each other.

Importing this module imports no Keras: ``import_keras`` runs inside the functions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kerascourse.autograder.core.results import ArchitectureError, CheckResult, GradingError

Shape = tuple[int | None, ...]


def finish(
    result: CheckResult, raise_on_fail: bool, error: type[GradingError] = ArchitectureError
) -> CheckResult:
    """Return the result, or raise ``error`` carrying it when it failed and we must raise.

    Why one helper: every check has the same ``raise_on_fail`` contract (raise the check's
    error class carrying the full result, else return it), and the checks live in several
    modules that must not import each other for it.
    """
    if raise_on_fail and not result.passed:
        raise error(result)
    return result


def import_keras() -> Any:
    """Import Keras on first use (importing the autograder must stay cheap)."""
    import keras

    return keras


def is_model(obj: object) -> bool:
    """Whether ``obj`` is a ``keras.Model`` (functional, Sequential or subclassed)."""
    return isinstance(obj, import_keras().Model)


def is_sequential(obj: object) -> bool:
    """Whether ``obj`` is a ``keras.Sequential`` model."""
    return isinstance(obj, import_keras().Sequential)


def type_name(layer_type: str | type) -> str:
    """A layer class name from a name or a class (``Dense`` or ``keras.layers.Dense``)."""
    return layer_type if isinstance(layer_type, str) else layer_type.__name__


def class_of(layer: object) -> str:
    """The class name a learner sees in ``model.summary()``."""
    return type(layer).__name__


def fmt_int(n: int) -> str:
    """1284170 -> '1,284,170' (the way budgets are quoted)."""
    return f"{n:,}"


def upper_first(text: str) -> str:
    """Start a sentence with a capital without lowering the rest (``str.capitalize`` does)."""
    return text[:1].upper() + text[1:]


def fmt_shape(shape: Iterable[int | None]) -> str:
    """(28, 28, 1) as Python writes it, so a learner can paste it into keras.Input."""
    return str(tuple(shape))


def prod(shape: Iterable[int | None]) -> int:
    """Number of elements of a fully known shape (caller checks for None first)."""
    return math.prod(int(d) for d in shape)  # type: ignore[arg-type]


def require_model(model: object, check: str) -> None:
    """Refuse anything that is not a Keras model, with a message (not an AttributeError)."""
    if model is None or not is_model(model):
        result = CheckResult(
            check=check,
            passed=False,
            measured=f"a {type(model).__name__}, not a Keras model",
            allowed="a keras.Model",
            advice="Assign your model (keras.Model(inputs, outputs)) to the variable the "
            "task names, and run its cell before this check.",
        )
        raise ArchitectureError(result)


def _config(model: Any) -> dict[str, Any] | None:
    """``model.get_config()``, or None for a subclassed model without a graph config."""
    try:
        cfg = model.get_config()
    except NotImplementedError:
        return None
    return cfg if isinstance(cfg, dict) else None


def is_functional(model: Any) -> bool:
    """Whether ``model`` is a functional model (its config lists input and output layers)."""
    cfg = _config(model) if is_model(model) and not is_sequential(model) else None
    return cfg is not None and "input_layers" in cfg and "output_layers" in cfg


def _history_refs(obj: Any) -> Iterator[dict[str, Any]]:
    """Every serialized KerasTensor (``__keras_tensor__``) nested anywhere in ``obj``."""
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            yield obj["config"]
            return
        for value in obj.values():
            yield from _history_refs(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _history_refs(value)


def _endpoint_names(obj: Any) -> list[str]:
    """Layer names in ``input_layers``/``output_layers`` (a triple, a list or a dict of them)."""
    if isinstance(obj, dict):
        return [name for value in obj.values() for name in _endpoint_names(value)]
    if (
        isinstance(obj, (list, tuple))
        and len(obj) == 3
        and isinstance(obj[0], str)
        and isinstance(obj[1], int)
    ):
        return [obj[0]]
    if isinstance(obj, (list, tuple)):
        return [name for value in obj for name in _endpoint_names(value)]
    return []


@dataclass
class Graph:
    """The layer graph of one model level (nested models are single nodes here).

    Attributes:
        order: layer names in the config's order (topological; InputLayers included).
        classes: layer name -> class name.
        calls: layer name -> one entry per call inside this model, each the list of
            argument shapes (batch dimension included, as in the config).
        parents: layer name -> names of the layers whose outputs it consumes.
        inputs: names of the input layers; outputs: names of the output layers.
        sequential: True for a ``keras.Sequential`` model (a chain, one call per layer).
    """

    order: list[str] = field(default_factory=list)
    classes: dict[str, str] = field(default_factory=dict)
    calls: dict[str, list[list[Shape]]] = field(default_factory=dict)
    parents: dict[str, list[str]] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    sequential: bool = False

    def children(self) -> dict[str, list[str]]:
        """Layer name -> names of the layers that consume its outputs."""
        out: dict[str, list[str]] = {name: [] for name in self.order}
        for name, parents in self.parents.items():
            for parent in parents:
                out.setdefault(parent, []).append(name)
        return out


def _shapes_of(tensors: Any) -> list[Shape]:
    """Shapes of a KerasTensor or a nest of them (``layer.input`` / ``layer.output``)."""
    keras = import_keras()
    return [tuple(t.shape) for t in keras.tree.flatten(tensors)]


def graph_of(model: Any, check: str) -> Graph:
    """The model's layer graph from its public config; ArchitectureError if it has none.

    A subclassed model has no graph the grader can read (its ``call`` is arbitrary Python),
    so the checks that need one refuse it with the fix rather than guess.
    """
    require_model(model, check)
    keras = import_keras()
    graph = Graph()
    if is_sequential(model):
        cfg = _config(model) or {}
        graph.sequential = True
        entries = cfg.get("layers", [])
        previous: str | None = None
        for entry in entries:
            name = entry.get("config", {}).get("name") or entry.get("name")
            graph.order.append(name)
            graph.classes[name] = entry.get("class_name", "?")
            graph.parents[name] = [previous] if previous else []
            previous = name
        by_name = {layer.name: layer for layer in model.layers}
        for name in graph.order:
            layer = by_name.get(name)
            shapes: list[Shape] = []
            if layer is not None:
                try:
                    shapes = _shapes_of(layer.input)
                except (AttributeError, ValueError):
                    shapes = []
            graph.calls[name] = [shapes]
        if graph.order and graph.classes[graph.order[0]] == "InputLayer":
            graph.inputs = [graph.order[0]]
        graph.outputs = graph.order[-1:]
        return graph

    cfg = _config(model)
    if cfg is None or "input_layers" not in cfg or not isinstance(model, keras.Model):
        result = CheckResult(
            check=check,
            passed=False,
            measured=f"a subclassed model '{model.name}' (class {class_of(model)})",
            allowed="a functional or Sequential Keras model",
            advice="The grader reads the model's structure from its config, which a "
            "subclassed model does not have: build it with the functional API, "
            "keras.Model(inputs, outputs), or keras.Sequential([...]).",
        )
        raise ArchitectureError(result)
    for entry in cfg["layers"]:
        name = entry["name"]
        graph.order.append(name)
        graph.classes[name] = entry.get("class_name", "?")
        parents: list[str] = []
        calls: list[list[Shape]] = []
        for node in entry.get("inbound_nodes", []):
            args = node.get("args", []) if isinstance(node, dict) else node
            kwargs = node.get("kwargs", {}) if isinstance(node, dict) else {}
            calls.append([tuple(ref["shape"]) for ref in _history_refs(args)])
            for ref in _history_refs([args, kwargs]):
                producer = ref["keras_history"][0]
                if producer not in parents:
                    parents.append(producer)
        graph.parents[name] = parents
        graph.calls[name] = calls
    graph.inputs = _endpoint_names(cfg.get("input_layers", []))
    graph.outputs = _endpoint_names(cfg.get("output_layers", []))
    return graph


def leaf_layers(model: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(path, layer) for every non-input layer, nested models flattened (``block/dense``).

    Why flatten: a learner who wraps a block in a sub-model should meet the same layer
    rules and get advice naming the layer that matters, not the wrapper.
    """
    for layer in model.layers:
        path = f"{prefix}{layer.name}"
        if is_model(layer):
            yield from leaf_layers(layer, prefix=f"{path}/")
        elif class_of(layer) != "InputLayer":
            yield path, layer


def layer_params(layer: Any) -> int:
    """``layer.count_params()``, 0 for a layer that is not built (it holds no weights yet)."""
    try:
        return int(layer.count_params())
    except ValueError:
        return 0


def key_argument(layer: Any) -> str:
    """The argument a learner chose for a layer: Dense(512), Conv2D(128), Embedding(64)."""
    try:
        cfg = layer.get_config()
    except NotImplementedError:
        return class_of(layer)
    for key in ("units", "filters", "output_dim", "pool_size", "rate"):
        value = cfg.get(key)
        if value is not None:
            value = tuple(value) if isinstance(value, list) else value
            return f"{class_of(layer)}({value})"
    return class_of(layer)


def find_layer(model: Any, path: str) -> Any:
    """The layer at ``path`` (``block/dense`` for nested models), via ``model.get_layer``."""
    current = model
    for part in path.split("/"):
        current = current.get_layer(part)
    return current


def shrink_advice(layer_class: str, measure: str) -> str:
    """What shrinks a layer's ``measure`` ("params" or "flops"), by layer class."""
    if layer_class in ("Dense", "EinsumDense"):
        return (
            "give it fewer units, or fewer inputs (pool or stride before Flatten, or use "
            "GlobalAveragePooling2D instead of Flatten)"
        )
    if "Conv" in layer_class:
        if measure == "params":
            return "use fewer filters or a smaller kernel_size"
        return "pool earlier (e.g. MaxPooling2D before it) or use fewer filters"
    if layer_class in ("LSTM", "GRU", "SimpleRNN", "Bidirectional"):
        return "use fewer units" + (" or shorter sequences" if measure == "flops" else "")
    if layer_class == "Embedding":
        return "use a smaller vocabulary (input_dim) or output_dim"
    return "make it smaller or remove it"


def describe_layer(model: Any, path: str) -> str:
    """``"the Dense(512) 'dense' after Flatten"``: what advice calls a layer.

    The predecessor is read from the graph of the level the layer lives in, so the learner
    can find it in ``model.summary()`` even when two layers share a class.
    """
    layer = find_layer(model, path)
    text = f"the {key_argument(layer)} '{path}'"
    parent_path, _, name = path.rpartition("/")
    owner = find_layer(model, parent_path) if parent_path else model
    try:
        graph = graph_of(owner, "describe")
    except ArchitectureError:
        return text
    parents = [p for p in graph.parents.get(name, []) if graph.classes.get(p) != "InputLayer"]
    if parents:
        text += " after " + " and ".join(graph.classes.get(p, p) for p in parents)
    elif graph.parents.get(name):
        text += " on the input"
    return text
