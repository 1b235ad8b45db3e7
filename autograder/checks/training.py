"""Training a rebuilt architecture reproducibly, with the optimizer the learner submitted.

Why the grader trains: only the architecture is taken from the learner (see ``rebuild``),
so the grader trains it itself with a fixed seed on grader-held data. The optimizer the
learner tuned is read from the export's ``compile_config`` as two plain facts (a built-in
class name and a numeric learning rate), never as code.

Importing this module imports no Keras.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kerascourse.autograder.checks.device import enable_deterministic_ops
from kerascourse.autograder.checks.keras_utils import import_keras
from kerascourse.autograder.core.results import CheckResult

__all__ = ["submitted_optimizer", "train_with_seed"]


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
