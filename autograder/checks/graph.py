"""Graph checks: every layer connected between inputs and outputs, and shared layers.

Why from the config and from public probes: Keras 3 keeps the call graph in private
attributes that change between releases, so the graph is read from ``model.get_config()``
(``keras_utils.graph_of``: each layer's ``inbound_nodes``), and a branch the model never
uses is found by building ``keras.Model(model.inputs, [*model.outputs, tensor])`` (see
``_extends``). Each check returns a :class:`CheckResult` and, by default, raises
:class:`ArchitectureError` carrying it.

Importing this module imports no Keras.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from kerascourse.autograder.checks.keras_utils import (
    class_of,
    find_layer,
    finish,
    graph_of,
    import_keras,
    is_model,
    leaf_layers,
    require_model,
)
from kerascourse.autograder.core.results import ArchitectureError, CheckResult

__all__ = ["check_connected", "check_shared_layer"]


def _node_count(model: Any) -> int:
    """Layer calls inside ``model`` (one per config inbound node; Sequential: one per layer)."""
    graph = graph_of(model, "connected")
    return sum(
        len(calls) if not graph.sequential else 1
        for name, calls in graph.calls.items()
        if graph.classes[name] != "InputLayer"
    )


def _all_layer_ids(model: Any) -> set[int]:
    ids = {id(model)}
    for layer in model.layers:
        ids |= _all_layer_ids(layer) if is_model(layer) else {id(layer)}
    return ids


def _extends(model: Any, tensor: Any, base_nodes: int) -> bool | None:
    """Does ``tensor`` hang off ``model``'s inputs through layer calls outside the model?

    Public-API probe: build ``keras.Model(model.inputs, [*model.outputs, tensor])``. Keras
    refuses it when ``tensor`` is not computed from those inputs (-> None: unrelated). When
    it builds, ``tensor`` lies inside ``model`` exactly when the probe has no more layer calls
    than the model itself; extra calls are a branch the model never uses.
    """
    keras = import_keras()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            probe = keras.Model(list(model.inputs), [*model.outputs, tensor])
    except Exception:  # noqa: BLE001 - Keras raises ValueError/KeyError/AttributeError here
        return None
    return _node_count(probe) > base_nodes


def _candidates(created: Mapping[str, Any] | Iterable[Any]) -> list[tuple[str, Any]]:
    items = created.items() if isinstance(created, Mapping) else ((None, obj) for obj in created)
    return [(label or getattr(obj, "name", "?"), obj) for label, obj in items]


def _dangling(model: Any, created: Mapping[str, Any] | Iterable[Any]) -> list[str]:
    """Branches the learner computed from the model's inputs but never wired to an output."""
    keras = import_keras()
    candidates = _candidates(created)
    others = [obj for _, obj in candidates if is_model(obj) and obj is not model]
    owned = _all_layer_ids(model)
    for other in others:
        owned |= _all_layer_ids(other)
    base = _node_count(model)
    other_bases = []
    for other in others:
        try:
            other_bases.append((other, _node_count(other)))
        except ArchitectureError:
            continue
    found: list[str] = []
    for label, obj in candidates:
        if is_model(obj):
            continue
        if isinstance(obj, keras.layers.Layer):
            if id(obj) in owned:
                continue
            try:
                tensors = keras.tree.flatten(obj.output)
            except (AttributeError, ValueError):
                continue  # never called: an unused layer object is not part of any graph
            kind = f"layer '{obj.name}' ({class_of(obj)})"
        elif isinstance(obj, keras.KerasTensor):
            tensors = [obj]
            kind = f"tensor '{label}'"
        else:
            continue
        for tensor in tensors:
            if not _extends(model, tensor, base):
                continue
            if any(_extends(o, tensor, n) is False for o, n in other_bases):
                continue  # part of another model the learner built on the same inputs
            found.append(kind)
            break
    return found


def check_connected(
    model: Any,
    created: Mapping[str, Any] | Iterable[Any] | None = None,
    *,
    raise_on_fail: bool = True,
) -> CheckResult:
    """Check that every layer is reached from the inputs and reaches an output.

    How, with public API only:

    * Inside the model, the graph comes from ``model.get_config()`` (each layer's
      ``inbound_nodes`` name the layers it consumes): a forward walk from the input layers
      and a backward walk from the output layers must each visit every layer. This catches
      an input that feeds nothing and (in a hand-edited config) a layer fed by nothing.
    * A *dangling* branch (``aux = Dense(3)(x)`` never used by the outputs) is not in the
      model at all: Keras keeps only the layers between inputs and outputs. So it can only
      be seen from what the learner created: pass ``created`` (a notebook's ``globals()``,
      or a list of layers/tensors). Each KerasTensor (and each called layer's output)
      there that is computed from the model's inputs but adds layer calls the model does
      not have is dangling (see ``_extends``). Tensors of other models in ``created`` that
      share the inputs are not counted.

    Args:
        model: a functional or Sequential model.
        created: objects to look for dangling branches among, e.g. ``globals()``.
            Defaults to `None` (only the model's own graph is checked).
        raise_on_fail: raise :class:`ArchitectureError` when a branch is cut off.
            Defaults to `True`.
    """
    graph = graph_of(model, "connected")
    problems: list[str] = []
    unreached: list[str] = []
    unused: list[str] = []
    if not graph.sequential:
        children = graph.children()
        forward = set(graph.inputs)
        stack = list(graph.inputs)
        while stack:
            for child in children.get(stack.pop(), []):
                if child not in forward:
                    forward.add(child)
                    stack.append(child)
        backward = set(graph.outputs)
        stack = list(graph.outputs)
        while stack:
            for parent in graph.parents.get(stack.pop(), []):
                if parent not in backward:
                    backward.add(parent)
                    stack.append(parent)
        unreached = [n for n in graph.order if n not in forward]
        unused = [n for n in graph.order if n not in backward]
        if unreached:
            problems.append(f"layers {unreached} are not computed from the model's inputs")
        if unused:
            names = [f"{graph.classes[n]} '{n}'" for n in unused]
            problems.append(f"{', '.join(names)} never reach an output")
    dangling = _dangling(model, created) if created is not None else []
    if dangling:
        problems.append(f"{', '.join(dangling)} is computed but never reaches an output")
    details = {"unreached": unreached, "unused": unused, "dangling": dangling}
    allowed = "every layer between the inputs and an output"
    if not problems:
        return finish(
            CheckResult("connected", True, "every layer is connected", allowed, "", details),
            raise_on_fail,
        )
    advice = (
        "Feed every branch into the output (e.g. keras.layers.Concatenate()([a, b]) or "
        "keras.layers.Add()), or delete the branch you do not use; remove inputs the "
        "model does not use."
    )
    result = CheckResult("connected", False, "; ".join(problems), allowed, advice, details)
    return finish(result, raise_on_fail)


def check_shared_layer(
    model: Any, layer_name: str, min_calls: int = 2, *, raise_on_fail: bool = True
) -> CheckResult:
    """Check that layer ``layer_name`` is called at ``min_calls``+ places (weight sharing).

    Calls are counted from the model config (one inbound node per call). ``layer_name``
    may be a path into a nested model (``encoder/dense``).
    """
    require_model(model, "shared_layer")
    parent_path, _, name = layer_name.rpartition("/")
    try:
        owner = find_layer(model, parent_path) if parent_path else model
        find_layer(model, layer_name)
    except ValueError:
        valid = [path for path, _ in leaf_layers(model)]
        result = CheckResult(
            check="shared_layer",
            passed=False,
            measured=f"no layer named '{layer_name}' in model '{model.name}'",
            allowed=f"a layer '{layer_name}' called at least {min_calls} times",
            advice=f"Give the shared layer name='{layer_name}'. Valid layer names: {valid}.",
        )
        return finish(result, raise_on_fail)
    graph = graph_of(owner, "shared_layer")
    calls = 1 if graph.sequential else len(graph.calls.get(name, []))
    allowed = f"layer '{layer_name}' called at least {min_calls} times (shared weights)"
    measured = f"layer '{layer_name}' is called {calls} time{'s' if calls != 1 else ''}"
    details = {"calls": calls, "min_calls": min_calls}
    if calls >= min_calls:
        return finish(
            CheckResult("shared_layer", True, measured, allowed, "", details), raise_on_fail
        )
    advice = (
        "Create the layer once and call that same object on each input, e.g. "
        f"shared = keras.layers.Dense(64, name='{name}'); a = shared(x1); b = shared(x2). "
        "Creating a new layer for each input gives separate weights."
    )
    return finish(
        CheckResult("shared_layer", False, measured, allowed, advice, details), raise_on_fail
    )
