"""Rebuilding a submitted architecture: refuse what is not built-in Keras, then deserialize.

Why: a metric printed in the student's kernel can be hard-coded, computed on training
data or produced by a patched ``Model.evaluate``. The grader therefore takes only the
architecture (``model.to_json()``), scans it for anything that is not a built-in Keras
object (Lambda layers, custom classes and functions), and rebuilds it with
``safe_mode=True``; training and measuring happen in ``training`` and ``quality``.

Importing this module imports no Keras.
"""

from __future__ import annotations

import json
from typing import Any

from kerascourse.autograder.checks.keras_utils import import_keras, is_model
from kerascourse.autograder.core.results import ArchitectureError, CheckResult

__all__ = ["MAX_ARCHITECTURE_BYTES", "rebuild_model"]


#: Largest architecture JSON the grader parses (a real course model is a few KB to ~100 KB).
MAX_ARCHITECTURE_BYTES = 5 * 2**20

#: Built-in classes that still run code or read files the grader does not control.
_REFUSED_CLASSES = {
    "Lambda": (
        "replace it with built-in layers (e.g. keras.layers.Rescaling, Activation, "
        "Reshape, Normalization) that do the same computation"
    ),
    "TFSMLayer": "build the model from Keras layers instead of loading a SavedModel",
}
_MODEL_CLASSES = {"Functional", "Sequential", "Model"}


def _refuse(measured: str, advice: str, allowed: str = "a model of built-in Keras layers") -> None:
    raise ArchitectureError(CheckResult("rebuild", False, measured, allowed, advice))


def _is_keras_module(module: Any) -> bool:
    return isinstance(module, str) and (module == "keras" or module.startswith("keras."))


def _known_function(name: str) -> bool:
    """Whether a serialized function name is a built-in Keras activation."""
    if ">" in name:
        return False
    keras = import_keras()
    try:
        keras.activations.get(name)
    except (ValueError, TypeError):
        return False
    return True


def _scan(node: Any, layer: str, found: list[tuple[str, str, str]]) -> None:
    """Collect (kind, name, layer) for everything in a config the grader will not rebuild.

    Kinds: ``lambda`` (serialized Python bytecode), ``refused`` (Lambda/TFSMLayer),
    ``custom`` (a class outside Keras, or registered by the student), ``function`` (a
    function that is not a built-in Keras activation). Checked before Keras sees the
    config, so the answer does not depend on what the current process has registered
    or whether ``keras.config.enable_unsafe_deserialization()`` was called in it.
    """
    if isinstance(node, list):
        for item in node:
            _scan(item, layer, found)
        return
    if not isinstance(node, dict):
        return
    cls = node.get("class_name")
    inner = node.get("config")
    named = isinstance(inner, dict) and isinstance(inner.get("name"), str)
    if isinstance(cls, str) and named and ("module" in node or "registered_name" in node):
        layer = inner["name"]
    if cls == "__lambda__":
        found.append(("lambda", "lambda", layer))
    elif cls in _REFUSED_CLASSES:
        found.append(("refused", cls, layer))
    elif cls == "function":
        name = inner if isinstance(inner, str) else str(node.get("registered_name"))
        in_keras = _is_keras_module(node.get("module")) and ">" not in name
        if not (in_keras or _known_function(name)):
            found.append(("function", name, layer))
    elif isinstance(cls, str) and ("module" in node or "registered_name" in node):
        registered = node.get("registered_name")
        custom_name = isinstance(registered, str) and ">" in registered
        if custom_name or not _is_keras_module(node.get("module")):
            found.append(("custom", str(registered or cls), layer))
    for key, value in node.items():
        if key not in ("class_name", "module", "registered_name"):
            _scan(value, layer, found)


def _without_compile_config(node: Any) -> Any:
    """Drop ``compile_config`` entries: the grader chooses optimizer and loss itself."""
    if isinstance(node, dict):
        return {k: _without_compile_config(v) for k, v in node.items() if k != "compile_config"}
    if isinstance(node, list):
        return [_without_compile_config(v) for v in node]
    return node


def rebuild_model(
    architecture_json: str | bytes, *, max_bytes: int = MAX_ARCHITECTURE_BYTES
) -> Any:
    """Rebuild a model from ``model.to_json()`` output, refusing anything but built-in layers.

    Keras 3.15's ``deserialize_keras_object(..., safe_mode=True)`` refuses serialized
    Python lambdas (``Lambda.from_config`` and the ``__lambda__`` case in
    ``keras/src/saving/serialization_lib.py``), and its ``_retrieve_class_or_fn`` imports
    only ``keras*`` modules. We scan the config first anyway (see ``_scan``) because
    Keras's safe mode can be switched off process-wide and registered custom objects would
    otherwise resolve in the learner's kernel but not in the grader, and because a
    learner deserves "your model uses a Lambda layer 'lambda'" rather than Keras's error.

    Args:
        architecture_json: the JSON text from ``model.to_json()``.
        max_bytes: refuse larger inputs before parsing. Defaults to 5 MiB.

    Returns:
        An uncompiled ``keras.Model`` with freshly initialised weights.

    Raises:
        ArchitectureError: malformed or oversized JSON, a Lambda or custom object, or a
            config Keras cannot rebuild (all caused by the submission).
    """
    if isinstance(architecture_json, bytes):
        size = len(architecture_json)
    elif isinstance(architecture_json, str):
        size = len(architecture_json.encode("utf-8", errors="replace"))
    else:
        _refuse(
            f"a {type(architecture_json).__name__} instead of the architecture JSON text",
            "Submit model.to_json() (a str).",
            allowed="a JSON string from model.to_json()",
        )
    if size > max_bytes:
        _refuse(
            f"the architecture JSON is {size / 2**20:.1f} MiB",
            "A course model's architecture is a few KB: submit model.to_json(), not the "
            "weights or data.",
            allowed=f"at most {max_bytes / 2**20:.1f} MiB",
        )
    try:
        config = json.loads(architecture_json)
    except json.JSONDecodeError as err:
        _refuse(
            f"the architecture is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})",
            "Submit the text returned by model.to_json() unchanged.",
            allowed="a JSON string from model.to_json()",
        )
    except (RecursionError, UnicodeDecodeError) as err:
        _refuse(
            f"the architecture JSON cannot be read ({type(err).__name__})",
            "Submit the text returned by model.to_json() unchanged.",
            allowed="a JSON string from model.to_json()",
        )
    if not isinstance(config, dict) or config.get("class_name") not in _MODEL_CLASSES:
        got = config.get("class_name") if isinstance(config, dict) else type(config).__name__
        _refuse(
            f"the JSON describes {got!r}, not a model",
            "Submit model.to_json() of a functional or Sequential model.",
            allowed=f"one of {sorted(_MODEL_CLASSES)}",
        )
    found: list[tuple[str, str, str]] = []
    try:
        config = _without_compile_config(config)
        _scan(config, "", found)
    except RecursionError:
        _refuse("the architecture JSON is nested too deeply", "Submit model.to_json() unchanged.")
    if found:
        kind, name, layer = found[0]
        where = f" '{layer}'" if layer else ""
        if kind in ("lambda", "refused"):
            cls = "Lambda" if kind == "lambda" else name
            _refuse(
                f"your model uses a {cls} layer{where}",
                f"The grader only rebuilds built-in layers: {_REFUSED_CLASSES[cls]}.",
            )
        if kind == "function":
            _refuse(
                f"your model uses the custom function '{name}' (in layer{where})",
                "The grader only rebuilds built-in Keras objects: use a built-in activation "
                "by name, e.g. activation='relu' or 'gelu'.",
            )
        _refuse(
            f"your model uses the custom class '{name}' (layer{where})",
            "The grader only rebuilds built-in Keras layers: build the same computation "
            "from keras.layers (a nested keras.Model is fine).",
        )
    keras = import_keras()
    try:
        model = keras.saving.deserialize_keras_object(config, safe_mode=True)
    except Exception as err:  # noqa: BLE001 - any failure here comes from the submitted config
        first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        _refuse(
            f"Keras could not rebuild the architecture ({type(err).__name__}: {first})",
            "Check that model.to_json() of your final model was submitted and that the "
            "model runs on a batch of data in your notebook.",
        )
    if not is_model(model):
        _refuse(
            f"the JSON rebuilds a {type(model).__name__}, not a keras.Model",
            "Submit model.to_json() of a functional or Sequential model.",
        )
    return model
