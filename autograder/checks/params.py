"""Parameter checks: counting parameters, naming the biggest layers, exact counts and budgets.

Why parameters have a module of their own: the same count serves two rules with two
errors. An exact count pins an architecture ("two Dense(64) layers on 784 inputs") and
fails with :class:`ArchitectureError` (:func:`check_param_count`); a ceiling is a compute
budget and fails with :class:`BudgetExceededError` (:func:`check_params`). Both read
``model.count_params()`` (exact and machine-independent) and give the same advice, which
names the layer holding most of them.

Importing this module imports no Keras.
"""

from __future__ import annotations

from typing import Any

from kerascourse.autograder.checks.keras_utils import (
    class_of,
    describe_layer,
    finish,
    fmt_int,
    layer_params,
    leaf_layers,
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
    "check_param_count",
    "check_params",
    "count_params",
    "largest_layers",
    "parameter_advice",
]


def largest_layers(model: Any, k: int = 3) -> list[tuple[str, str, int]]:
    """The ``k`` layers holding the most parameters: ``[(path, class, params), ...]``.

    Nested models are flattened (``block/dense``) so advice names the layer to change.
    """
    require_model(model, "parameters")
    rows = [(path, class_of(layer), layer_params(layer)) for path, layer in leaf_layers(model)]
    rows.sort(key=lambda row: row[2], reverse=True)
    return rows[:k]


def count_params(model: Any, check: str) -> int:
    """``model.count_params()``, or :class:`ArchitectureError` with the fix when unbuilt.

    Public because the exact-count check and the budget check both start from it, and
    an unbuilt model must fail both with the same message.
    """
    require_model(model, check)
    try:
        return int(model.count_params())
    except ValueError:
        result = CheckResult(
            check=check,
            passed=False,
            measured=f"model '{model.name}' is not built, so it has no parameters yet",
            allowed="a built model",
            advice="Start the model with keras.Input(shape=...) or call model.build(...) "
            "before this check.",
        )
        raise ArchitectureError(result) from None


def parameter_advice(model: Any, n_params: int, limit: int | None = None) -> str:
    """Advice naming the biggest layer: "the Dense(512) 'dense' after Flatten holds ..."."""
    top = largest_layers(model, k=1)
    over = f"Your model is {n_params / limit:.1f}x over the budget. " if limit else ""
    if not top or top[0][2] == 0:
        return over + "model.summary() shows where the parameters are."
    path, cls, count = top[0]
    share = count / max(n_params, 1)
    return (
        f"{over}{upper_first(describe_layer(model, path))} holds {fmt_int(count)} of them "
        f"({share:.0%}): {shrink_advice(cls, 'params')}. model.summary() lists every layer."
    )


def check_param_count(
    model: Any,
    expected: int | None = None,
    max_params: int | None = None,
    *,
    raise_on_fail: bool = True,
) -> CheckResult:
    """Check ``model.count_params()`` against an exact number and/or a ceiling.

    An exact count is how a task pins an architecture ("two Dense(64) layers on 784
    inputs"); a ceiling is a size rule. Both raise :class:`ArchitectureError`; the
    compute *budget* check is :func:`check_params` below.
    """
    if expected is None and max_params is None:
        msg = "check_param_count needs expected= or max_params=; got neither."
        raise GraderBugError(msg)
    n = count_params(model, "parameters")
    parts = []
    if expected is not None:
        parts.append(f"exactly {fmt_int(expected)}")
    if max_params is not None:
        parts.append(f"at most {fmt_int(max_params)}")
    allowed = " and ".join(parts)
    details = {"params": n, "expected": expected, "max_params": max_params}
    measured = f"{fmt_int(n)} parameters"
    if expected is not None and n != expected:
        advice = (
            f"Your model has {fmt_int(abs(n - expected))} {'more' if n > expected else 'fewer'} "
            "parameters than the task's architecture: compare model.summary() with the layers "
            f"the task lists. {parameter_advice(model, n)}"
        )
        return finish(
            CheckResult("parameters", False, measured, allowed, advice, details), raise_on_fail
        )
    if max_params is not None and n > max_params:
        advice = parameter_advice(model, n, max_params)
        return finish(
            CheckResult("parameters", False, measured, allowed, advice, details), raise_on_fail
        )
    return finish(CheckResult("parameters", True, measured, allowed, "", details), raise_on_fail)


def check_params(model: Any, max_params: int, *, raise_on_fail: bool = True) -> CheckResult:
    """Check ``model.count_params()`` against a budget; advice names the biggest layer.

    Example message: "[FAILED] parameters: 1,284,170 parameters; allowed: at most 250,000.
    Your model is 5.1x over the budget. The Dense(512) 'dense' after Flatten holds
    1,180,160 of them (92%): ...".
    """
    n = count_params(model, "parameters")
    details = {"params": n, "max_params": max_params}
    allowed = f"at most {fmt_int(max_params)}"
    measured = f"{fmt_int(n)} parameters"
    if n <= max_params:
        return CheckResult("parameters", True, measured, allowed, "", details)
    advice = parameter_advice(model, n, max_params)
    result = CheckResult("parameters", False, measured, allowed, advice, details)
    return finish(result, raise_on_fail, BudgetExceededError)
