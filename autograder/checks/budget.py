"""Re-exports of the budget checks, which now live in ``params`` (parameters), ``flops``
(the FLOPs formulas and budget), ``timing`` (epoch-time ratio) and ``memory`` (peak RSS).

Kept for code that still imports ``kerascourse.autograder.checks.budget``; new code
imports from the module that defines the name. Importing this module imports no Keras.
"""

from __future__ import annotations

from kerascourse.autograder.checks.flops import (
    ZERO_COST_LAYERS,
    check_flops,
    count_flops,
    flops_by_layer,
)
from kerascourse.autograder.checks.memory import check_peak_memory, measure_peak_rss
from kerascourse.autograder.checks.params import check_params
from kerascourse.autograder.checks.timing import check_time_ratio, epoch_times, steady_state

__all__ = [
    "ZERO_COST_LAYERS",
    "check_flops",
    "check_params",
    "check_peak_memory",
    "check_time_ratio",
    "count_flops",
    "epoch_times",
    "flops_by_layer",
    "measure_peak_rss",
    "steady_state",
]
