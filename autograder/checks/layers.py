"""Layer checks: which layer classes a model uses, in which order, and which are frozen.

Why subsequences and counts rather than an exact layer list: a task fixes the layers that
make the idea ("Conv2D, MaxPooling2D, Flatten, Dense"; "no Lambda"; "the base's first
blocks frozen") and leaves the learner free to add Dropout or BatchNormalization. Nested
models are flattened (``block/dense``) through ``keras_utils.leaf_layers``, so a rule sees
every layer wherever it sits. Each check returns a :class:`CheckResult` and, by default,
raises :class:`ArchitectureError` carrying it.

Importing this module imports no Keras.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from kerascourse.autograder.checks.keras_utils import (
    class_of,
    finish,
    leaf_layers,
    require_model,
    type_name,
)
from kerascourse.autograder.core.results import CheckResult

__all__ = ["check_contains", "check_forbidden", "check_frozen", "check_layer_sequence"]


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
        return finish(
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
    return finish(result, raise_on_fail)


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
        return finish(
            CheckResult("layer_types", True, measured, allowed, "", details), raise_on_fail
        )
    measured = ", ".join(f"{n} {t}" for t, n in short.items())
    advice = " ".join(_add_advice(t, n, min_count) for t, n in short.items())
    result = CheckResult("layer_types", False, measured, allowed, advice, details)
    return finish(result, raise_on_fail)


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
        return finish(
            CheckResult("forbidden_layers", True, "none used", allowed, "", details), raise_on_fail
        )
    measured = "the model uses " + ", ".join(f"a {cls} layer '{path}'" for path, cls in found)
    classes = dict.fromkeys(cls for _, cls in found)
    advice = " ".join(_REPLACEMENTS.get(cls, f"Remove the {cls} layer.") for cls in classes)
    return finish(
        CheckResult("forbidden_layers", False, measured, allowed, advice, details), raise_on_fail
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
        return finish(result, raise_on_fail)
    details = {"missing": missing, "trainable": trainable}
    return finish(CheckResult("frozen", False, measured, allowed, advice, details), raise_on_fail)
