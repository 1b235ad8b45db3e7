"""Quality: the grader's own metrics (numpy on ``model(x, training=False)``) and the pass mark.

Why: a metric printed in the student's kernel can be hard-coded, computed on training
data or produced by a patched ``Model.evaluate``. The grader rebuilds the architecture
(``rebuild.rebuild_model``), trains it with a fixed seed on grader-held data
(``training.train_with_seed``), and computes the metric here with numpy.

The rebuild and training names are re-exported here (``quality.rebuild_model``,
``quality.train_with_seed``, ``quality.submitted_optimizer``, ``MAX_ARCHITECTURE_BYTES``)
for code that still imports them from this module; new code imports them from
``checks.rebuild`` and ``checks.training``.

Importing this module imports no Keras.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from kerascourse.autograder.checks.keras_utils import import_keras
from kerascourse.autograder.checks.rebuild import MAX_ARCHITECTURE_BYTES, rebuild_model
from kerascourse.autograder.checks.training import submitted_optimizer, train_with_seed
from kerascourse.autograder.core.results import CheckResult, GraderBugError, QualityError

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
