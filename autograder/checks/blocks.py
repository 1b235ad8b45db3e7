"""Checks of building blocks inside a model: residual and inception blocks, depth, degradation.

Why blocks are found by name: a lab that asks for "a function that returns a tensor" can
only be graded through the model that function helped build. The lab asks every layer a
block creates to be named ``f"{name}_..."`` and its last layer ``f"{name}_out"``, so the
grader can read, from the exported architecture alone, each block's output shape, its
parameter count (the sum over the layers with its prefix) and its join (an ``Add`` for a
residual block, a ``Concatenate`` of the towers for an inception block).

The degradation check compares two training runs the grader made itself (the learner's
net and its plain twin, :mod:`kerascourse.autograder.checks.twin`); no number from the learner's
kernel is used.

Importing this module imports no Keras.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kerascourse.autograder.checks.keras_utils import fmt_int, fmt_shape, graph_of, require_model
from kerascourse.autograder.core.results import ArchitectureError, CheckResult

__all__ = ["BlockSpec", "check_blocks", "check_degradation", "check_depth"]

#: The layer class that joins the branches of each kind of block.
JOINS = {"residual": "Add", "inception": "Concatenate"}


@dataclass(frozen=True)
class BlockSpec:
    """One block the lab's model must contain.

    Attributes:
        name: the block's ``name`` argument: its layers are ``f"{name}_..."``, its last
            layer ``f"{name}_out"``.
        kind: ``"residual"`` or ``"inception"``.
        output_shape: the block's output shape without the batch dimension.
        params: parameters of all the block's layers together (``count_params``).
        branches: how many tensors the join combines (2 for a residual add, the number
            of towers for an inception block).
        call: how the lab's notebook calls the block function, for messages.
    """

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    branches: int
    call: str = ""


def _block_layers(model: Any, prefix: str) -> list[Any]:
    return [layer for layer in model.layers if layer.name.startswith(f"{prefix}_")]


def _join_inputs(graph: Any, join: Any) -> int:
    """How many tensors the join layer's (first) call combines, from the config graph."""
    calls = graph.calls.get(join.name, [])
    return len(calls[0]) if calls else 0


def _check_one(model: Any, graph: Any, spec: BlockSpec) -> tuple[bool, str, str]:
    """(passed, what was measured, what to change) for one block."""
    layers = _block_layers(model, spec.name)
    out_name = f"{spec.name}_out"
    names = {layer.name: layer for layer in layers}
    call = f" ({spec.call})" if spec.call else ""
    if out_name not in names:
        found = sorted(names)[:6]
        measured = f"block '{spec.name}': no layer named '{out_name}'" + (
            f" (its layers: {found})" if found else " (no layer starts with that prefix)"
        )
        advice = (
            f'Name every layer the block function creates f"{{name}}_..." and its last '
            f'layer f"{{name}}_out"{call}.'
        )
        return False, measured, advice
    shape = tuple(names[out_name].output.shape[1:])
    params = sum(layer.count_params() for layer in layers)
    join_class = JOINS[spec.kind]
    joins = [layer for layer in layers if type(layer).__name__ == join_class]
    problems = []
    if shape != tuple(spec.output_shape):
        problems.append(f"output shape {fmt_shape(shape)}, expected {fmt_shape(spec.output_shape)}")
    if params != spec.params:
        problems.append(f"{fmt_int(params)} parameters, expected {fmt_int(spec.params)}")
    if not joins:
        problems.append(f"no {join_class} layer")
    elif (have := _join_inputs(graph, joins[0])) != spec.branches:
        problems.append(f"its {join_class} joins {have} branches, expected {spec.branches}")
    measured = f"block '{spec.name}': {fmt_shape(shape)}, {fmt_int(params)} parameters"
    if not problems:
        return True, measured, ""
    advice = f"Block '{spec.name}'{call}: " + "; ".join(problems) + "."
    return False, measured, advice


def check_blocks(model: Any, specs: Sequence[BlockSpec], check: str) -> CheckResult:
    """Each block of ``specs`` is in ``model`` with its output shape, parameters and join.

    Raises:
        ArchitectureError: a block is missing, misnamed, or has the wrong shape, parameter
            count or join; the message names every failing block and what it should be.
    """
    require_model(model, check)
    graph = graph_of(model, check)  # once: each block's join is looked up in it
    outcomes = [(_check_one(model, graph, spec), spec) for spec in specs]
    failed = [(measured, advice) for (ok, measured, advice), _ in outcomes if not ok]
    kinds = sorted({spec.kind for spec in specs})
    allowed = f"{len(specs)} {'/'.join(kinds)} block(s) with the specified shapes and parameters"
    details = {
        spec.name: {"passed": ok, "measured": measured} for (ok, measured, _), spec in outcomes
    }
    if not failed:
        names = ", ".join(spec.name for spec in specs)
        result = CheckResult(check, True, f"blocks {names} as specified", allowed, "", details)
        return result
    measured = "; ".join(m for m, _ in failed[:3]) + (
        f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
    )
    advice = " ".join(a for _, a in failed[:3])
    raise ArchitectureError(CheckResult(check, False, measured, allowed, advice, details))


def check_depth(depth: int, min_depth: int) -> CheckResult:
    """The longest input-to-output path holds at least ``min_depth`` weighted layers."""
    allowed = f"at least {min_depth} weighted layers (convolutions, dense) on the longest path"
    measured = f"{depth} weighted layers on the longest path"
    if depth >= min_depth:
        return CheckResult("depth", True, measured, allowed, "", {"depth": depth})
    advice = (
        "Build the network with the notebook's build_network() and your blocks; do not "
        "remove blocks: the lab is about a deep net."
    )
    raise ArchitectureError(
        CheckResult("depth", False, measured, allowed, advice, {"depth": depth})
    )


def check_degradation(
    losses: Sequence[float], twin_losses: Sequence[float], max_ratio: float, epochs: int
) -> CheckResult:
    """The residual net's final training loss is at most ``max_ratio`` of its plain twin's.

    Both loss lists are the grader's own runs (same data, seed, optimizer and epochs).
    """
    final, twin_final = float(losses[-1]), float(twin_losses[-1])
    ratio = final / twin_final if twin_final > 0 else float("inf")
    allowed = (
        f"final training loss at most {max_ratio:g} x that of the same net without shortcuts, "
        f"both trained by the grader for {epochs} epochs"
    )
    measured = (
        f"final training loss {final:.3f} with shortcuts, {twin_final:.3f} without "
        f"(ratio {ratio:.2f})"
    )
    details = {
        "losses": [round(float(v), 4) for v in losses],
        "twin_losses": [round(float(v), 4) for v in twin_losses],
        "ratio": round(ratio, 4),
    }
    if ratio <= max_ratio:
        return CheckResult("degradation", True, measured, allowed, "", details)
    advice = (
        "Your shortcuts do not help the deep net train: check that each residual block "
        "adds its input (or its 1x1 projection when the shape changes) to the output of its "
        "second BatchNormalization, and applies the ReLU after the add."
    )
    raise ArchitectureError(CheckResult("degradation", False, measured, allowed, advice, details))
