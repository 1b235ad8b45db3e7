"""Training time: per-epoch wall times, their steady state, and the time-ratio budget.

Why a ratio: wall time depends on the machine, so time is judged as a *ratio* to a
reference model timed in the same run on the same machine, after the first epoch (graph
tracing and compilation) is dropped; an absolute cap may be added on top.

Importing this module imports no Keras.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from time import perf_counter  # bound at import: a learner patching time.perf_counter later
from typing import Any

from kerascourse.autograder.checks.flops import flops_by_layer, flops_hotspot
from kerascourse.autograder.checks.keras_utils import finish, import_keras
from kerascourse.autograder.core.results import (
    ArchitectureError,
    BudgetExceededError,
    CheckResult,
    GraderBugError,
)

__all__ = ["check_time_ratio", "epoch_times", "steady_state"]


def epoch_times(
    model: Any,
    x: Any,
    y: Any,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
) -> list[float]:
    """Train a compiled model and return the wall time of each epoch in seconds.

    Timed by a callback around each epoch (``on_epoch_begin``/``on_epoch_end``) with
    ``time.perf_counter`` bound when this module was imported. Data loading outside
    ``fit`` is not counted. Use at least 2 epochs: :func:`steady_state` drops the first.
    """
    keras = import_keras()
    if getattr(model, "optimizer", None) is None:
        msg = f"epoch_times needs a compiled model; '{model.name}' has no optimizer. Call model.compile(...) first."
        raise GraderBugError(msg)

    class _EpochTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs: Any = None) -> None:
            self.times: list[float] = []  # reset: instances may be reused across fit calls

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._start = perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.times.append(perf_counter() - self._start)

    keras.utils.set_random_seed(seed)
    timer = _EpochTimer()
    model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=[timer])
    return list(timer.times)


def steady_state(times: Sequence[float]) -> float:
    """Median epoch time without the first epoch (tracing and compilation happen there)."""
    if len(times) < 2:
        msg = (
            f"steady_state needs at least 2 epoch times (the first is dropped); got "
            f"{len(times)}. Time at least 2 epochs, better 4 or more."
        )
        raise GraderBugError(msg)
    return float(statistics.median(times[1:]))


def check_time_ratio(
    student_times: Sequence[float],
    reference_times: Sequence[float],
    max_ratio: float,
    abs_cap_s: float | None = None,
    *,
    model: Any = None,
    raise_on_fail: bool = True,
) -> CheckResult:
    """Check the steady-state epoch time as a ratio to a reference model's (same machine).

    Args:
        student_times, reference_times: per-epoch seconds from :func:`epoch_times`, both
            measured in this run on this machine.
        max_ratio: largest allowed student/reference ratio of :func:`steady_state`.
        abs_cap_s: optional absolute ceiling on the student's steady-state epoch, seconds.
            Defaults to `None`.
        model: the student's model; when given, the advice names its costliest layer.
            Defaults to `None`.
        raise_on_fail: raise :class:`BudgetExceededError` on failure. Defaults to `True`.
    """
    student = steady_state(student_times)
    reference = steady_state(reference_times)
    ratio = student / max(reference, 1e-9)
    allowed = f"at most {max_ratio:g}x the reference"
    if abs_cap_s is not None:
        allowed += f" and at most {abs_cap_s:g} s"
    measured = (
        f"a steady-state epoch takes {student:.2f} s, {ratio:.1f}x the reference model's "
        f"{reference:.2f} s"
    )
    details = {
        "student_s": student,
        "reference_s": reference,
        "ratio": ratio,
        "max_ratio": max_ratio,
        "abs_cap_s": abs_cap_s,
        "student_times": list(student_times),
        "reference_times": list(reference_times),
    }
    over_ratio = ratio > max_ratio
    over_cap = abs_cap_s is not None and student > abs_cap_s
    if not (over_ratio or over_cap):
        return CheckResult("epoch_time_ratio", True, measured, allowed, "", details)
    advice = ""
    if model is not None:
        try:
            advice = flops_hotspot(model, flops_by_layer(model))
        except (ArchitectureError, GraderBugError):
            advice = ""
    if not advice:
        advice = "Make the model cheaper: pool earlier, use fewer filters/units or fewer layers."
    result = CheckResult("epoch_time_ratio", False, measured, allowed, advice, details)
    return finish(result, raise_on_fail, BudgetExceededError)
