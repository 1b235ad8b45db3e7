"""The plain twin of a residual network: the same layers with every shortcut removed.

Why surgery on the exported JSON instead of a grader-built plain network: the degradation
check (lab03) asks whether *this* learner's residual net reaches a training loss that the
same network without shortcuts cannot reach in the same budget. Only the shortcuts may
differ, so the twin is derived from the submission itself: each ``Add`` is replaced by its
main-branch input, and the layers that then feed nothing (projection shortcuts) are
dropped. Depth, widths, strides and every other layer stay as submitted.

The main branch of an ``Add`` is the input that passed through more weighted layers
(convolutions, dense layers) since the model's inputs: a shortcut is either an identity
(no extra layer) or a single projection, while the main branch holds the block's two
convolutions. An ``Add`` whose inputs are equally deep has no main branch; it is kept and
reported (the twin is then refused rather than guessed).

Works on the Keras 3 functional JSON (``model.to_json()``); imports no Keras.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["TwinError", "plain_twin", "weighted_depth"]

#: Layer classes that count as one step of depth (they hold the learned transformation).
WEIGHTED = frozenset(
    {"Conv1D", "Conv2D", "Conv3D", "SeparableConv2D", "DepthwiseConv2D", "Dense", "Conv2DTranspose"}
)


class TwinError(ValueError):
    """The model has no well-defined plain twin (no shortcut, or an ambiguous one)."""


def _history_refs(node: Any) -> list[list[Any]]:
    """Every ``keras_history`` triple ([layer, node, tensor]) inside an inbound node."""
    found: list[list[Any]] = []
    if isinstance(node, dict):
        if node.get("class_name") == "__keras_tensor__":
            found.append(node["config"]["keras_history"])
        else:
            for value in node.values():
                found.extend(_history_refs(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_history_refs(value))
    return found


def _layers(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    graph = config.get("config", {})
    if config.get("class_name") not in ("Functional", "Model") or "layers" not in graph:
        msg = "the plain twin needs a functional model (keras.Model(inputs, outputs))"
        raise TwinError(msg)
    return {layer["config"]["name"]: layer for layer in graph["layers"]}


def _parents(layer: dict[str, Any]) -> list[str]:
    return [ref[0] for ref in _history_refs(layer.get("inbound_nodes", []))]


def weighted_depth(config: dict[str, Any]) -> dict[str, int]:
    """Layer name -> most weighted layers on any path from an input up to and including it."""
    layers = _layers(config)
    depth: dict[str, int] = {}

    def visit(name: str, trail: tuple[str, ...] = ()) -> int:
        if name in depth:
            return depth[name]
        if name in trail:
            msg = f"the model graph has a cycle through layer {name!r}"
            raise TwinError(msg)
        layer = layers[name]
        before = max((visit(p, (*trail, name)) for p in _parents(layer)), default=0)
        depth[name] = before + (1 if layer["class_name"] in WEIGHTED else 0)
        return depth[name]

    for name in layers:
        visit(name)
    return depth


def _replace_refs(node: Any, old: str, new: list[Any]) -> None:
    """Point every reference to layer ``old``'s output at the tensor ``new`` (in place)."""
    if isinstance(node, dict):
        if node.get("class_name") == "__keras_tensor__":
            history = node["config"]["keras_history"]
            if history[0] == old:
                history[:] = list(new)
        else:
            for value in node.values():
                _replace_refs(value, old, new)
    elif isinstance(node, list):
        for value in node:
            _replace_refs(value, old, new)


def _replace_outputs(outputs: Any, old: str, new: list[Any]) -> Any:
    """``output_layers`` is one [name, node, tensor] triple or a list/dict of them."""
    if isinstance(outputs, list) and outputs and isinstance(outputs[0], str):
        return list(new) if outputs[0] == old else outputs
    if isinstance(outputs, list):
        return [_replace_outputs(o, old, new) for o in outputs]
    if isinstance(outputs, dict):
        return {k: _replace_outputs(v, old, new) for k, v in outputs.items()}
    return outputs


def _output_names(outputs: Any) -> set[str]:
    if isinstance(outputs, list) and outputs and isinstance(outputs[0], str):
        return {outputs[0]}
    values = outputs.values() if isinstance(outputs, dict) else outputs or []
    return set().union(*(_output_names(o) for o in values)) if values else set()


def plain_twin(json_text: str) -> tuple[str, list[str]]:
    """The JSON of the model with every residual ``Add`` replaced by its main branch.

    Returns:
        ``(twin_json, removed)``: the twin's JSON (loadable with
        ``keras.models.model_from_json``) and the names of the removed layers (the
        ``Add`` layers first, then the projection shortcuts that fed nothing afterwards).

    Raises:
        TwinError: the model is not functional, has no ``Add`` layer, or an ``Add`` whose
            inputs are equally deep (no main branch to keep).
    """
    config = json.loads(json_text)
    layers = _layers(config)
    depth = weighted_depth(config)
    graph = config["config"]
    adds = [name for name, layer in layers.items() if layer["class_name"] == "Add"]
    if not adds:
        msg = "the model has no Add layer, so it has no residual connection to remove"
        raise TwinError(msg)
    removed: list[str] = []
    for name in adds:
        refs = _history_refs(layers[name].get("inbound_nodes", []))
        if len(refs) != 2:
            msg = f"Add layer {name!r} adds {len(refs)} tensors; a residual add has two"
            raise TwinError(msg)
        deeper = sorted(refs, key=lambda r: depth[r[0]], reverse=True)
        if depth[deeper[0][0]] == depth[deeper[1][0]]:
            msg = (
                f"Add layer {name!r} adds two branches of equal depth "
                f"({deeper[0][0]!r} and {deeper[1][0]!r}), so neither is a shortcut"
            )
            raise TwinError(msg)
        main = deeper[0]
        for other in graph["layers"]:
            if other["config"]["name"] != name:
                _replace_refs(other.get("inbound_nodes", []), name, main)
        graph["output_layers"] = _replace_outputs(graph["output_layers"], name, main)
        graph["layers"] = [la for la in graph["layers"] if la["config"]["name"] != name]
        removed.append(name)
    removed.extend(_prune(graph))
    return json.dumps(config), removed


def _prune(graph: dict[str, Any]) -> list[str]:
    """Drop layers whose output nothing uses (the orphaned projection shortcuts)."""
    keep = _output_names(graph["output_layers"]) | _output_names(graph["input_layers"])
    dropped: list[str] = []
    while True:
        used = set(keep)
        for layer in graph["layers"]:
            used.update(ref[0] for ref in _history_refs(layer.get("inbound_nodes", [])))
        orphans = [
            la["config"]["name"] for la in graph["layers"] if la["config"]["name"] not in used
        ]
        if not orphans:
            return dropped
        graph["layers"] = [la for la in graph["layers"] if la["config"]["name"] not in orphans]
        dropped.extend(orphans)
