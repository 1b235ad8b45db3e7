"""Interface checks: the model's input and output names and shapes (batch dimension excluded).

Why these always raise on a mismatch (``raise_on_fail=True`` by default): a model with the
wrong interface cannot be trained or scored by the grader at all, so every later check
would fail with a confusing message. Each check returns a :class:`CheckResult` that says
what was measured, what the task allows and what to change, and raises
:class:`ArchitectureError` carrying it.

Only public Keras 3 API is read: ``model.inputs``/``model.outputs`` (KerasTensors with
``.name``/``.shape``) and ``model.output_names``; never the removed Keras 2 attributes
(``layer.output_shape``) nor private ones.

Importing this module imports no Keras.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kerascourse.autograder.checks.keras_utils import (
    Shape,
    finish,
    fmt_shape,
    graph_of,
    is_sequential,
)
from kerascourse.autograder.core.results import ArchitectureError, CheckResult, GraderBugError

__all__ = ["check_inputs", "check_outputs"]


def _shape_matches(actual: Shape, expected: Sequence[int | None]) -> bool:
    """Same rank, and every dimension equal where the task fixes it (None = any size)."""
    return len(actual) == len(expected) and all(
        e is None or a == e for a, e in zip(actual, expected, strict=True)
    )


def _endpoints(model: Any, which: str, check: str) -> dict[str, Shape]:
    """Name -> shape (batch dimension excluded) of the model's inputs or outputs."""
    graph_of(model, check)  # refuses a subclassed model with the fix
    try:
        tensors = list(model.inputs if which == "input" else model.outputs)
    except (AttributeError, ValueError, TypeError):
        tensors = []
    if not tensors:
        result = CheckResult(
            check=check,
            passed=False,
            measured=f"model '{model.name}' has no defined {which}s yet",
            allowed=f"a model with named {which}s",
            advice="Start the model with keras.Input(shape=..., name=...) so it is built "
            "when created (a Sequential model without an Input has no inputs until it "
            "is called).",
        )
        raise ArchitectureError(result)
    shapes = [tuple(t.shape)[1:] for t in tensors]
    if which == "input":
        names = [t.name for t in tensors]
    else:
        names = list(model.output_names)
    return dict(zip(names, shapes, strict=True))


def _wrap_advice(which: str, expected: Mapping[str, Sequence[int | None]]) -> str:
    """How to turn a Sequential model into a functional one with named endpoints."""
    first_in = next(iter(expected)) if which == "input" else "image"
    shape = fmt_shape(expected[first_in]) if which == "input" else "(...)"
    out_name = next(iter(expected)) if which == "output" else "label"
    return (
        f"A Sequential model cannot name its {which}s the way the task needs: build it with "
        f"the functional API instead, e.g. inputs = keras.Input(shape={shape}, "
        f"name='{first_in}'); x = ...; outputs = keras.layers.Dense(..., "
        f"name='{out_name}')(x); model = keras.Model(inputs, outputs)."
    )


def _check_endpoints(
    model: Any,
    expected: Mapping[str, Sequence[int | None]],
    which: str,
    raise_on_fail: bool,
) -> CheckResult:
    check = f"{which}s"
    if not expected:
        msg = f"check_{which}s needs at least one expected {which}; got an empty mapping."
        raise GraderBugError(msg)
    wanted = {name: tuple(shape) for name, shape in expected.items()}
    allowed = ", ".join(f"{which} '{n}' with shape {fmt_shape(s)}" for n, s in wanted.items())
    if which == "output" and is_sequential(model):
        result = CheckResult(
            check=check,
            passed=False,
            measured=f"Sequential model '{model.name}' has unnamed outputs",
            allowed=allowed,
            advice=_wrap_advice(which, wanted),
        )
        return finish(result, raise_on_fail)
    actual = _endpoints(model, which, check)
    problems: list[str] = []
    fixes: list[str] = []
    missing = [n for n in wanted if n not in actual]
    extra = [n for n in actual if n not in wanted]
    if len(missing) == 1 and len(extra) == 1:
        problems.append(f"the {which} is named '{extra[0]}', not '{missing[0]}'")
    else:
        if missing:
            problems.append(f"no {which} named {missing}; the model's {which}s are {list(actual)}")
        if extra:
            problems.append(f"unexpected {which}s {extra}")
    for name in missing:
        if which == "input":
            fixes.append(f"Name it: keras.Input(shape={fmt_shape(wanted[name])}, name='{name}').")
        else:
            fixes.append(
                f"Name the layer that produces it: e.g. keras.layers.Dense(..., name='{name}')."
            )
    if extra and not missing:
        fixes.append(f"Remove the {which}s the task does not ask for.")
    for name, shape in wanted.items():
        if name in actual and not _shape_matches(actual[name], shape):
            problems.append(
                f"{which} '{name}' has shape {fmt_shape(actual[name])}; expected {fmt_shape(shape)}"
            )
            if which == "input":
                fixes.append(
                    f"Change keras.Input(shape=...) to keras.Input(shape={fmt_shape(shape)}, "
                    f"name='{name}')."
                )
            else:
                fixes.append(
                    f"Change the layer that produces '{name}' (e.g. the last Dense's units) "
                    f"so that it outputs shape {fmt_shape(shape)}."
                )
    if missing and which == "input" and is_sequential(model):
        fixes.append(_wrap_advice(which, wanted))
    details = {
        "expected": {n: list(s) for n, s in wanted.items()},
        "actual": {n: list(s) for n, s in actual.items()},
    }
    if problems:
        result = CheckResult(
            check=check,
            passed=False,
            measured="; ".join(problems),
            allowed=allowed,
            advice=" ".join(fixes),
            details=details,
        )
    else:
        measured = ", ".join(f"{which} '{n}' with shape {fmt_shape(s)}" for n, s in actual.items())
        result = CheckResult(check, True, measured, allowed, details=details)
    return finish(result, raise_on_fail)


def check_inputs(
    model: Any, expected: Mapping[str, Sequence[int | None]], *, raise_on_fail: bool = True
) -> CheckResult:
    """Check the model's input names and shapes (batch dimension excluded).

    Why names: the grader feeds its own data by name (``{"image": x}``), so a model whose
    input is called ``input_layer_3`` cannot be scored even if it is otherwise right.

    Args:
        model: the learner's model (functional, or Sequential started with a named Input).
        expected: input name -> shape without the batch dimension; ``None`` in a shape
            means any size is accepted there.
        raise_on_fail: raise :class:`ArchitectureError` on a mismatch. Defaults to `True`.

    Example:
        >>> check_inputs(model, {"image": (28, 28, 1)})  # doctest: +SKIP
    """
    return _check_endpoints(model, expected, "input", raise_on_fail)


def check_outputs(
    model: Any, expected: Mapping[str, Sequence[int | None]], *, raise_on_fail: bool = True
) -> CheckResult:
    """Check the model's output names (``model.output_names``) and shapes (batch excluded).

    A Sequential model has no output names: it fails with advice to use the functional API.
    """
    return _check_endpoints(model, expected, "output", raise_on_fail)
