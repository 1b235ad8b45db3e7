"""Architecture checks: input/output names and shapes, layer types and order, parameters, graph.

Why these always raise on a mismatch (``raise_on_fail=True`` by default): a model with the
wrong interface cannot be trained or scored by the grader at all, so every later check
would fail with a confusing message. Each check returns a :class:`CheckResult` that says
what was measured, what the task allows and what to change, and raises
:class:`ArchitectureError` carrying it.

Only public Keras 3 API is read: ``model.inputs``/``model.outputs`` (KerasTensors with
``.name``/``.shape``), ``model.output_names``, ``model.layers``, ``model.get_layer``,
``layer.count_params()``, ``model.count_params()`` and ``model.get_config()`` for the call
graph (see ``_keras_utils``). Never the removed Keras 2 attributes (``layer.output_shape``)
nor private ones (``_inbound_nodes``).

Importing this module imports no Keras.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._keras_utils import (
    Shape,
    class_of,
    describe_layer,
    find_layer,
    fmt_int,
    fmt_shape,
    graph_of,
    import_keras,
    is_model,
    is_sequential,
    layer_params,
    leaf_layers,
    require_model,
    shrink_advice,
    type_name,
    upper_first,
)
from .results import ArchitectureError, CheckResult, GraderBugError, GradingError

__all__ = [
    "check_connected",
    "check_contains",
    "check_forbidden",
    "check_frozen",
    "check_inputs",
    "check_layer_sequence",
    "check_outputs",
    "check_param_count",
    "check_shared_layer",
    "largest_layers",
    "parameter_advice",
]


def _finish(
    result: CheckResult, raise_on_fail: bool, error: type[GradingError] = ArchitectureError
) -> CheckResult:
    """Return the result, or raise ``error`` carrying it when it failed and we must raise."""
    if raise_on_fail and not result.passed:
        raise error(result)
    return result


# --------------------------------------------------------------------------- interface


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
        return _finish(result, raise_on_fail)
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
    return _finish(result, raise_on_fail)


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


# --------------------------------------------------------------------------- layer types


def _class_sequence(model: Any) -> list[tuple[str, str]]:
    """(path, class) of every layer along the model, nested models flattened."""
    return [(path, class_of(layer)) for path, layer in leaf_layers(model)]


def _fmt_types(names: Iterable[str]) -> str:
    return ", ".join(names) or "(no layers)"


def check_layer_sequence(
    model: Any, required: Sequence[str | type], *, raise_on_fail: bool = True
) -> CheckResult:
    """Check that the required layer classes appear in this order along the model.

    Other layers may come between them (a subsequence), so a learner may add Dropout or
    BatchNormalization without failing a "Conv2D, MaxPooling2D, Flatten, Dense" rule.
    The order is the model's topological layer order (``model.layers``).
    """
    require_model(model, "layer_order")
    wanted = [type_name(t) for t in required]
    seq = _class_sequence(model)
    position = 0
    matched = 0
    for name in wanted:
        while position < len(seq) and seq[position][1] != name:
            position += 1
        if position == len(seq):
            break
        matched += 1
        position += 1
    classes = [cls for _, cls in seq]
    allowed = f"{_fmt_types(wanted)} in this order (other layers may come between)"
    details = {"required": wanted, "found": classes}
    if matched == len(wanted):
        return _finish(
            CheckResult("layer_order", True, _fmt_types(classes), allowed, "", details),
            raise_on_fail,
        )
    missing = wanted[matched]
    after = f" after the {wanted[matched - 1]}" if matched else ""
    if missing in classes:
        advice = (
            f"Your model has a {missing}, but not{after} where the task needs it: move it so "
            f"that the layers follow the order {_fmt_types(wanted)}."
        )
    else:
        advice = f"Add a {missing} layer{after}."
    result = CheckResult(
        check="layer_order",
        passed=False,
        measured=f"layers in order: {_fmt_types(classes)}",
        allowed=allowed,
        advice=advice,
        details=details,
    )
    return _finish(result, raise_on_fail)


def check_contains(
    model: Any,
    layer_types: Iterable[str | type],
    min_count: int = 1,
    *,
    raise_on_fail: bool = True,
) -> CheckResult:
    """Check that each of ``layer_types`` appears at least ``min_count`` times."""
    require_model(model, "layer_types")
    wanted = [type_name(t) for t in layer_types]
    counts: dict[str, int] = {}
    for _, cls in _class_sequence(model):
        counts[cls] = counts.get(cls, 0) + 1
    short = {t: counts.get(t, 0) for t in wanted if counts.get(t, 0) < min_count}
    times = "" if min_count == 1 else f" at least {min_count} times"
    allowed = (
        f"{_fmt_types(wanted)}{times}"
        if min_count > 1
        else f"at least one of each: {_fmt_types(wanted)}"
    )
    details = {"required": wanted, "min_count": min_count, "counts": counts}
    if not short:
        measured = ", ".join(f"{counts[t]} {t}" for t in wanted)
        return _finish(
            CheckResult("layer_types", True, measured, allowed, "", details), raise_on_fail
        )
    measured = ", ".join(f"{n} {t}" for t, n in short.items())
    advice = " ".join(_add_advice(t, n, min_count) for t, n in short.items())
    result = CheckResult("layer_types", False, measured, allowed, advice, details)
    return _finish(result, raise_on_fail)


def _add_advice(layer_type: str, have: int, need: int) -> str:
    missing = need - have
    plural = "s" if missing > 1 else ""
    if have == 0:
        return f"Add {'a' if missing == 1 else missing} {layer_type} layer{plural}."
    return f"Add {missing} more {layer_type} layer{plural} (the task needs {need})."


_REPLACEMENTS = {
    "Lambda": (
        "Replace it with built-in layers (e.g. keras.layers.Rescaling, Activation, Reshape, "
        "Normalization): the grader rebuilds your model from its config and only rebuilds "
        "built-in layers."
    ),
    "TFSMLayer": "Build the model from Keras layers instead of loading a SavedModel.",
}


def check_forbidden(
    model: Any, layer_types: Iterable[str | type], *, raise_on_fail: bool = True
) -> CheckResult:
    """Check that none of ``layer_types`` appears (e.g. ``Lambda``, which hides arbitrary code)."""
    require_model(model, "forbidden_layers")
    banned = [type_name(t) for t in layer_types]
    found = [(path, cls) for path, cls in _class_sequence(model) if cls in banned]
    allowed = f"no {_fmt_types(banned)} layers"
    details = {"forbidden": banned, "found": [path for path, _ in found]}
    if not found:
        return _finish(
            CheckResult("forbidden_layers", True, "none used", allowed, "", details), raise_on_fail
        )
    measured = "the model uses " + ", ".join(f"a {cls} layer '{path}'" for path, cls in found)
    classes = dict.fromkeys(cls for _, cls in found)
    advice = " ".join(_REPLACEMENTS.get(cls, f"Remove the {cls} layer.") for cls in classes)
    return _finish(
        CheckResult("forbidden_layers", False, measured, allowed, advice, details), raise_on_fail
    )


# --------------------------------------------------------------------------- parameters


def largest_layers(model: Any, k: int = 3) -> list[tuple[str, str, int]]:
    """The ``k`` layers holding the most parameters: ``[(path, class, params), ...]``.

    Nested models are flattened (``block/dense``) so advice names the layer to change.
    """
    require_model(model, "parameters")
    rows = [(path, class_of(layer), layer_params(layer)) for path, layer in leaf_layers(model)]
    rows.sort(key=lambda row: row[2], reverse=True)
    return rows[:k]


def _count_params(model: Any, check: str) -> int:
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
    compute *budget* check is :func:`kerascourse.autograder.budget.check_params`.
    """
    if expected is None and max_params is None:
        msg = "check_param_count needs expected= or max_params=; got neither."
        raise GraderBugError(msg)
    n = _count_params(model, "parameters")
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
        return _finish(
            CheckResult("parameters", False, measured, allowed, advice, details), raise_on_fail
        )
    if max_params is not None and n > max_params:
        advice = parameter_advice(model, n, max_params)
        return _finish(
            CheckResult("parameters", False, measured, allowed, advice, details), raise_on_fail
        )
    return _finish(CheckResult("parameters", True, measured, allowed, "", details), raise_on_fail)


# --------------------------------------------------------------------------- graph


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
        return _finish(
            CheckResult("connected", True, "every layer is connected", allowed, "", details),
            raise_on_fail,
        )
    advice = (
        "Feed every branch into the output (e.g. keras.layers.Concatenate()([a, b]) or "
        "keras.layers.Add()), or delete the branch you do not use; remove inputs the "
        "model does not use."
    )
    result = CheckResult("connected", False, "; ".join(problems), allowed, advice, details)
    return _finish(result, raise_on_fail)


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
        return _finish(result, raise_on_fail)
    graph = graph_of(owner, "shared_layer")
    calls = 1 if graph.sequential else len(graph.calls.get(name, []))
    allowed = f"layer '{layer_name}' called at least {min_calls} times (shared weights)"
    measured = f"layer '{layer_name}' is called {calls} time{'s' if calls != 1 else ''}"
    details = {"calls": calls, "min_calls": min_calls}
    if calls >= min_calls:
        return _finish(
            CheckResult("shared_layer", True, measured, allowed, "", details), raise_on_fail
        )
    advice = (
        "Create the layer once and call that same object on each input, e.g. "
        f"shared = keras.layers.Dense(64, name='{name}'); a = shared(x1); b = shared(x2). "
        "Creating a new layer for each input gives separate weights."
    )
    return _finish(
        CheckResult("shared_layer", False, measured, allowed, advice, details), raise_on_fail
    )


def check_frozen(model: Any, names: Sequence[str], *, raise_on_fail: bool = True) -> CheckResult:
    """Check that every layer in ``names`` exists (nested models searched) and is frozen.

    Why by leaf name: a transfer-learning lab freezes layers of a base model that the
    learner nests inside their own model; its layer names are the base's (``block1_conv``)
    wherever it sits. Frozen means ``layer.trainable is False`` as exported, which the
    grader's rebuilt model keeps (``trainable`` is part of each layer's config).
    """
    require_model(model, "frozen")
    found = {path.rpartition("/")[2]: (path, layer) for path, layer in leaf_layers(model)}
    missing = [n for n in names if n not in found]
    trainable = [found[n][0] for n in names if n in found and found[n][1].trainable]
    allowed = f"layers {list(names)} frozen (trainable=False)"
    if missing:
        measured = f"no layer named {missing} in model '{model.name}'"
        advice = (
            "Build the model on the provided base (datasets.pretrained_base()) without "
            "renaming its layers."
        )
    elif trainable:
        measured = f"{trainable} still trainable"
        advice = (
            "Set layer.trainable = False on the base's early layers (e.g. "
            "base.get_layer('block1_conv').trainable = False) before compiling and exporting; "
            "they hold general features that a small target set would only blur."
        )
    else:
        result = CheckResult("frozen", True, f"{len(names)} layer(s) frozen", allowed)
        return _finish(result, raise_on_fail)
    details = {"missing": missing, "trainable": trainable}
    return _finish(CheckResult("frozen", False, measured, allowed, advice, details), raise_on_fail)
