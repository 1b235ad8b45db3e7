"""kerascourse.autograder: judging students' models from outside their kernel.

The score that counts comes from a process that never ran student code: it rebuilds the
model from its serialized architecture (``safe_mode=True``), trains it with a fixed seed
on grader-held data and measures it with grader code. The same checks run inside the
student's kernel for fast self-check feedback, with the same messages.

Importing this package imports nothing heavy (no TensorFlow, no Keras).
"""

from __future__ import annotations

from kerascourse.autograder.core.results import (
    ArchitectureError,
    BudgetExceededError,
    CheckResult,
    DeviceError,
    GraderBugError,
    GradingError,
    QualityError,
)

__all__ = [
    "ArchitectureError",
    "BudgetExceededError",
    "CheckResult",
    "DeviceError",
    "GraderBugError",
    "GradingError",
    "QualityError",
]
