"""Quality: rebuild the student's architecture, train it ourselves, measure with our code.

Why: a metric printed in the student's kernel can be hard-coded, computed on training
data or produced by a patched ``Model.evaluate``. The grader therefore takes only the
architecture (``model.to_json()``), rebuilds it with ``safe_mode=True`` after refusing
anything that is not a built-in Keras object, trains it with a fixed seed on grader-held
data, and computes the metric with numpy from ``model(x, training=False)``.

Importing this module imports no Keras.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._keras_utils import import_keras, is_model
from .device import enable_deterministic_ops
from .results import ArchitectureError, CheckResult, GraderBugError, QualityError

__all__ = [
    "MAX_ARCHITECTURE_BYTES",
    "METRICS",
    "accuracy",
    "check_quality",
    "mse",
    "predict_numpy",
    "r2",
    "rebuild_model",
    "submitted_optimizer",
    "train_with_seed",
]

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


def _fresh_optimizer(optimizer: str | Mapping[str, Any] | Any) -> Any:
    """A new optimizer (no state carried over) from a name, a config dict or an instance."""
    keras = import_keras()
    if isinstance(optimizer, keras.optimizers.Optimizer):
        return type(optimizer).from_config(optimizer.get_config())
    return keras.optimizers.get(dict(optimizer) if isinstance(optimizer, Mapping) else optimizer)


def train_with_seed(
    model: Any,
    data: tuple[Any, Any],
    *,
    seed: int,
    epochs: int,
    batch_size: int,
    optimizer: str | Mapping[str, Any] = "adam",
    loss: str | Mapping[str, Any] = "sparse_categorical_crossentropy",
    reinitialize: bool = True,
) -> Any:
    """Train ``model`` on ``data = (x, y)`` reproducibly: same seed, same weights (on CPU).

    Seeds Python, numpy and the backend (``keras.utils.set_random_seed``), asks the
    backend for deterministic kernels (``device.enable_deterministic_ops``: TF op
    determinism), and with ``reinitialize=True`` trains a clone with fresh weights drawn
    under that seed, so the result does not depend on when or how the model was built.

    Args:
        model: the (rebuilt) model.
        data: ``(x, y)`` training arrays held by the grader.
        seed: the seed; from the instructor configuration for credit.
        epochs, batch_size: training length and batch size.
        optimizer: a name (``"adam"``) or a config dict (``{"class_name": "Adam",
            "config": {"learning_rate": 1e-3}}``); a fresh optimizer every call.
            Defaults to `"adam"`.
        loss: a loss name or config. Defaults to `"sparse_categorical_crossentropy"`.
        reinitialize: train a freshly initialised clone. Defaults to `True`.

    Returns:
        The ``keras.callbacks.History``; ``history.model`` is the trained model (the clone
        when ``reinitialize=True``).
    """
    keras = import_keras()
    x, y = data
    keras.utils.set_random_seed(seed)
    enable_deterministic_ops()
    if reinitialize:
        model = keras.models.clone_model(model)
    model.compile(optimizer=_fresh_optimizer(optimizer), loss=loss)
    return model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0)


def _take(x: Any, start: int, stop: int) -> Any:
    if isinstance(x, Mapping):
        return {k: np.asarray(v)[start:stop] for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [np.asarray(v)[start:stop] for v in x]
    return np.asarray(x)[start:stop]


def _length(x: Any) -> int:
    if isinstance(x, Mapping):
        return len(next(iter(x.values())))
    if isinstance(x, (list, tuple)):
        return len(x[0])
    return len(x)


def predict_numpy(
    model: Any, x: Any, batch_size: int = 256, *, output: str | None = None
) -> np.ndarray:
    """``model(x, training=False)`` in batches, as one numpy array (grader-side predictions).

    Why not ``model.predict``/``evaluate``: the grader computes every number itself, and a
    direct call is what the same code does on every backend. ``output`` picks one output
    of a multi-output model by name (``model.output_names``).
    """
    keras = import_keras()
    n = _length(x)
    chunks = []
    for start in range(0, n, batch_size):
        out = model(_take(x, start, start + batch_size), training=False)
        if isinstance(out, Mapping):
            if output is None and len(out) != 1:
                msg = f"predict_numpy needs output= for a model with outputs {list(out)}."
                raise GraderBugError(msg)
            out = out[output] if output is not None else next(iter(out.values()))
        elif isinstance(out, (list, tuple)):
            names = list(model.output_names)
            if output is None and len(out) != 1:
                msg = f"predict_numpy needs output= for a model with outputs {names}."
                raise GraderBugError(msg)
            out = out[names.index(output)] if output is not None else out[0]
        chunks.append(np.asarray(keras.ops.convert_to_numpy(out)))
    return np.concatenate(chunks, axis=0)


def accuracy(
    model: Any,
    x: Any,
    y: Any,
    batch_size: int = 256,
    *,
    threshold: float = 0.5,
    output: str | None = None,
) -> float:
    """Classification accuracy computed by the grader with numpy.

    Multi-class outputs (last axis > 1) are scored by argmax; a single output unit by
    ``prediction > threshold`` (0.5 for a sigmoid, use 0.0 for logits). Labels may be
    integers or one-hot.
    """
    pred = predict_numpy(model, x, batch_size, output=output)
    labels = np.asarray(y)
    if labels.ndim >= 2 and labels.shape[-1] > 1:
        labels = labels.argmax(axis=-1)
    labels = labels.reshape(len(labels), -1)[:, 0] if labels.ndim > 1 else labels
    if pred.ndim >= 2 and pred.shape[-1] > 1:
        guess = pred.argmax(axis=-1)
    else:
        guess = (pred.reshape(len(pred)) > threshold).astype(labels.dtype)
    guess = guess.reshape(len(guess), -1)[:, 0] if guess.ndim > 1 else guess
    if guess.shape != labels.shape:
        msg = f"accuracy: predictions of shape {guess.shape} do not match labels {labels.shape}."
        raise GraderBugError(msg)
    return float(np.mean(guess == labels))


def mse(model: Any, x: Any, y: Any, batch_size: int = 256, *, output: str | None = None) -> float:
    """Mean squared error computed by the grader with numpy (float64)."""
    pred = predict_numpy(model, x, batch_size, output=output).astype(np.float64)
    target = np.asarray(y, dtype=np.float64)
    if pred.size != target.size:
        msg = f"mse: predictions of shape {pred.shape} do not match targets {target.shape}."
        raise GraderBugError(msg)
    return float(np.mean((pred.reshape(target.shape) - target) ** 2))


def r2(model: Any, x: Any, y: Any, batch_size: int = 256, *, output: str | None = None) -> float:
    """Coefficient of determination, 1 - SS_res / SS_tot, computed by the grader with numpy.

    Why R² for regression labs: unlike MSE it does not depend on the target's units or on
    an affine rescaling of it, so one threshold holds for public and private data alike
    (0 is "as good as predicting the mean", 1 is perfect).
    """
    pred = predict_numpy(model, x, batch_size, output=output).astype(np.float64)
    target = np.asarray(y, dtype=np.float64)
    if pred.size != target.size:
        msg = f"r2: predictions of shape {pred.shape} do not match targets {target.shape}."
        raise GraderBugError(msg)
    target = target.reshape(-1)
    residual = np.sum((pred.reshape(-1) - target) ** 2)
    total = np.sum((target - target.mean()) ** 2)
    return float(1.0 - residual / total) if total > 0 else float("nan")


#: Metric name (``LabSpec.metric``) -> (grader function, higher is better).
METRICS: dict[str, tuple[Any, bool]] = {
    "accuracy": (accuracy, True),
    "r2": (r2, True),
    "mse": (mse, False),
}


def submitted_optimizer(
    architecture_json: str | bytes,
    allowed: tuple[str, ...],
    learning_rates: tuple[float, float],
) -> tuple[CheckResult, dict[str, Any] | None]:
    """Read the optimizer a learner tuned from the export's ``compile_config``.

    Only two facts are taken: the optimizer's class name (one of ``allowed``) and a plain
    numeric learning rate inside ``learning_rates``; everything else in the config is
    ignored, so nothing but a built-in optimizer with a number can come out of it.

    Returns:
        ``(result, optimizer_config)``: a passed result and ``{"class_name": ...,
        "config": {"learning_rate": ...}}``, or a failed result (with the fix) and None.
    """
    lo, hi = learning_rates
    wanted = f"a model compiled with one of {list(allowed)}, learning rate in [{lo:g}, {hi:g}]"
    try:
        node = json.loads(architecture_json)
        compiled = node.get("compile_config") if isinstance(node, dict) else None
    except ValueError:
        compiled = None
    optimizer = compiled.get("optimizer") if isinstance(compiled, dict) else None
    if not isinstance(optimizer, dict):
        advice = (
            "Compile the model inside build_model(), e.g. model.compile(optimizer="
            "keras.optimizers.Adam(learning_rate=1e-3), loss='mse'), before it is exported."
        )
        return CheckResult(
            "optimizer", False, "the exported model was not compiled", wanted, advice
        ), None
    name = optimizer.get("class_name")
    config = optimizer.get("config") if isinstance(optimizer.get("config"), dict) else {}
    rate = config.get("learning_rate")
    if name not in allowed:
        advice = f"Use one of the built-in optimizers {list(allowed)}."
        return CheckResult("optimizer", False, f"optimizer {name!r}", wanted, advice), None
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not lo <= rate <= hi:
        plain = isinstance(rate, (int, float)) and not isinstance(rate, bool)
        shown = f"{rate:g}" if plain else "a schedule or no number"
        advice = (
            f"Give {name} a plain learning rate between {lo:g} and {hi:g} "
            "(learning-rate schedules are not graded here)."
        )
        return CheckResult(
            "optimizer", False, f"{name} with learning rate {shown}", wanted, advice
        ), None
    rate = float(rate)
    result = CheckResult("optimizer", True, f"{name} with learning rate {rate:.3g}", wanted, "")
    return result, {"class_name": name, "config": {"learning_rate": rate}}


def _plain_float(value: Any) -> float:
    """The number itself, never a subclass's overridden comparison or ``__float__``."""
    if isinstance(value, bool):
        msg = f"check_quality needs a number; got a bool ({value})."
        raise GraderBugError(msg)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, int):
        return float(int.__int__(value))
    if isinstance(value, (np.generic, np.ndarray)) and np.size(value) == 1:
        return float(np.asarray(value, dtype=np.float64).reshape(()).item())
    msg = f"check_quality needs a number; got {type(value).__name__}."
    raise GraderBugError(msg)


def check_quality(
    value: float,
    threshold: float,
    metric: str,
    higher_is_better: bool = True,
    *,
    raise_on_fail: bool = True,
) -> CheckResult:
    """Check a grader-measured metric against the lab's threshold.

    Args:
        value: the metric the grader computed (e.g. :func:`accuracy`).
        threshold: the pass mark, inclusive.
        metric: its name for the message (``"accuracy"``, ``"mse"``).
        higher_is_better: accuracy-like (True) or error-like (False). Defaults to `True`.
        raise_on_fail: raise :class:`QualityError` below the mark. Defaults to `True`.
    """
    v = _plain_float(value)
    t = _plain_float(threshold)
    word = "at least" if higher_is_better else "at most"
    allowed = f"{metric} {word} {t:.4g}"
    details = {"metric": metric, "value": v, "threshold": t, "higher_is_better": higher_is_better}
    if math.isnan(v):
        measured = f"{metric} is NaN"
        advice = (
            "Training diverged when the grader trained your architecture: lower the learning "
            "rate, normalise the inputs, or check that the output activation matches the loss."
        )
        result = CheckResult("quality", False, measured, allowed, advice, details)
    else:
        passed = v >= t if higher_is_better else v <= t
        measured = f"{metric} {v:.4g} on the grader's held-out data"
        advice = (
            "The grader rebuilt your architecture, trained it with a fixed seed on its own "
            "data and measured this; numbers printed in your notebook do not count. Improve "
            "the model itself: more capacity where it helps, normalised inputs, an output "
            "layer and loss that match the task."
        )
        result = CheckResult(
            "quality", passed, measured, allowed, "" if passed else advice, details
        )
    if raise_on_fail and not result.passed:
        raise QualityError(result)
    return result
