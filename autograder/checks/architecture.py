"""Re-exports of the architecture checks, which now live in ``interface``, ``layers``,
``params`` and ``graph`` (split so each module holds one kind of rule).

Kept for code that still imports ``kerascourse.autograder.checks.architecture``; new code
imports from the module that defines the name. Importing this module imports no Keras.
"""

from __future__ import annotations

from kerascourse.autograder.checks.graph import check_connected, check_shared_layer
from kerascourse.autograder.checks.interface import check_inputs, check_outputs
from kerascourse.autograder.checks.layers import (
    check_contains,
    check_forbidden,
    check_frozen,
    check_layer_sequence,
)
from kerascourse.autograder.checks.params import (
    check_param_count,
    largest_layers,
    parameter_advice,
)

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
