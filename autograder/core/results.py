"""What every grading check returns or raises: measured, allowed, and what to change.

Why one type for all checks: the in-kernel self-checks (fast feedback) and the trusted
grader process (the score that counts) must print the *same* messages, and the feedback
report, the CSV and the class report all read the same fields. A check never returns a
bare bool: a learner has to see what was measured, what was allowed, and the fix.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one model.

    Attributes:
        check: short id, e.g. ``"parameters"``, ``"epoch_time_ratio"``, ``"quality"``.
        passed: whether the model met the requirement.
        measured: what was measured, in words with units (``"1,284,170 parameters"``).
        allowed: the requirement (``"at most 250,000"``).
        advice: what to change when it failed (empty when passed).
        details: numbers behind the message, for reports (JSON-serialisable).
    """

    check: str
    passed: bool
    measured: str
    allowed: str
    advice: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def message(self) -> str:
        """One line for a learner: ``ok``/``FAILED``, measured vs allowed, then the fix."""
        head = "ok" if self.passed else "FAILED"
        text = f"[{head}] {self.check}: {self.measured}; allowed: {self.allowed}."
        if not self.passed and self.advice:
            text += f" {self.advice}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for JSON results files and reports)."""
        return asdict(self)


class GradingError(AssertionError):
    """Base of every check failure.

    A subclass of AssertionError on purpose: nbgrader counts a test cell as failed when it
    raises, and learners read assertion failures as "my answer is wrong", not "the
    grader crashed". ``result`` carries the structured outcome.
    """

    def __init__(self, result: CheckResult) -> None:
        self.result = result
        super().__init__(result.message())


class ArchitectureError(GradingError):
    """The model's structure does not match the task (names, shapes, layers, graph)."""


class BudgetExceededError(GradingError):
    """The model is over a compute budget (parameters, FLOPs, memory, time)."""


class DeviceError(GradingError):
    """Training did not run on the required device (GPU policy)."""


class QualityError(GradingError):
    """The model, trained by the grader, did not reach the target metric."""


class SpecificationError(GradingError):
    """Code the learner wrote (a callback) did not do what the specification says."""


class GraderBugError(RuntimeError):
    """Our bug, not the student's: reported as such in feedback (STYLE: tell them apart)."""
