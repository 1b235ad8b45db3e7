"""Lab 04's specification, as the grader's reference: the decisions it asks for, the runs.

The specification (the lab notebook states it to the learner, word for word)::

    RelativeEarlyStopping(patience=3, min_relative_delta=0.01, monitor="val_loss")

- ``on_train_begin`` starts afresh (best = infinity, no wait, an empty ``decisions`` list),
  so one instance can be used for several ``fit`` calls;
- ``on_epoch_end``: the epoch *improved* when ``logs[monitor] < best * (1 -
  min_relative_delta)`` (the first epoch always does); then it keeps the value, the epoch
  and a copy of ``self.model.get_weights()``, and resets the wait. Otherwise it waits one
  more epoch; after ``patience`` epochs in a row without improvement it sets
  ``self.model.stop_training = True``;
- ``on_train_end``: when any epoch improved, ``self.model.set_weights(...)`` the best
  epoch's weights;
- every decision is appended to ``self.decisions`` as ``{"epoch": e, "value": v,
  "action": a}`` with ``a`` one of ``"improved"``, ``"waited"``, ``"stopped"`` (the epoch
  that stopped training) and, last, ``"restored"`` (with the best epoch and its value).

Why the grader can check it without trusting the learner: it trains small models itself
(:mod:`kerascourse.autograder.labs.lab04_callbacks.bridge` runs the callback in a sandboxed
process) and *scripts* the monitored value in most runs (:func:`scenarios`), so the right
decision at every epoch is known in advance (:func:`expected_run`); the weights it
recorded at each epoch end say whether the restored ones are the best epoch's. One run
uses the real validation loss; the ``other_parameters`` and ``fresh_state`` runs draw
their scripts from the grader's seed, so a private seed gives runs no learner has seen.

Importing this module imports no Keras.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ACTIONS",
    "CLASS_NAME",
    "LAB_ID",
    "VALUE_RTOL",
    "Expected",
    "Scenario",
    "expected_run",
    "scenarios",
]

#: The lab's id (its folder in ``labs/``, its spec's ``lab_id``).
LAB_ID = "lab04_callbacks"
#: The class the learner writes.
CLASS_NAME = "RelativeEarlyStopping"
#: The actions a decision may record.
ACTIONS = ("improved", "waited", "stopped", "restored")
#: Relative tolerance when a logged value is compared with the value the grader sent.
VALUE_RTOL = 1e-6


@dataclass(frozen=True)
class Scenario:
    """One grader-controlled training run (or several ``fit`` calls of one instance).

    Attributes:
        name: what it tests, in the check messages.
        scripts: the monitored value per epoch, one tuple per ``fit`` call of the same
            instance; ``None`` for a fit that reports the real validation loss.
        patience: the callback's ``patience``.
        min_relative_delta: the callback's ``min_relative_delta``.
        epochs: the ``epochs`` of each fit.
    """

    name: str
    scripts: tuple[tuple[float, ...] | None, ...]
    patience: int
    min_relative_delta: float
    epochs: int

    @property
    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments the grader constructs the callback with."""
        return {"patience": self.patience, "min_relative_delta": self.min_relative_delta}


@dataclass(frozen=True)
class Expected:
    """What the specification decides for a sequence of monitored values."""

    actions: list[str]
    best_epoch: int | None
    best_value: float | None
    epochs_run: int | None  # None: the sequence ended before a decision to stop

    def decisions(self, values: Sequence[float]) -> list[dict[str, Any]]:
        """The decision log the specification asks for."""
        out = [
            {"epoch": e, "value": float(values[e]), "action": a} for e, a in enumerate(self.actions)
        ]
        if self.best_epoch is not None:
            out.append({"epoch": self.best_epoch, "value": self.best_value, "action": "restored"})
        return out


def expected_run(
    values: Sequence[float], patience: int, min_relative_delta: float, epochs: int
) -> Expected:
    """The specification, applied to the values a run reported (the grader's reference).

    ``epochs_run`` is the number of epochs ``fit`` should have run: the stopping epoch
    plus one, `epochs` when it never stops, None when `values` ran out first (a run the
    learner stopped too early).
    """
    best, best_epoch, wait = math.inf, None, 0
    actions: list[str] = []
    for epoch, value in enumerate(values):
        if value < best * (1 - min_relative_delta):
            best, best_epoch, wait = value, epoch, 0
            actions.append("improved")
            continue
        wait += 1
        if wait >= patience:
            actions.append("stopped")
            return Expected(actions, best_epoch, _or_none(best), epoch + 1)
        actions.append("waited")
    done = len(values) >= epochs
    return Expected(actions, best_epoch, _or_none(best), epochs if done else None)


def _or_none(value: float) -> float | None:
    return None if value == math.inf else float(value)


def scenarios(seed: int) -> dict[str, Scenario]:
    """The grader's runs; the seeded ones change with a private seed."""
    import numpy as np

    rng = np.random.default_rng(seed)

    def noisy(n: int, start: float, spread: float) -> tuple[float, ...]:
        # Falls fast, then flattens into noise around a floor: plateaus of every length.
        floor = start * rng.uniform(0.3, 0.5)
        steps = floor + (start - floor) * np.exp(-np.arange(n) / rng.uniform(1.5, 3.0))
        return tuple(round(float(v), 6) for v in steps * (1 + rng.normal(0, spread, n)))

    margin = (1.0, 0.8, 0.795, 0.79, 0.7, 0.699, 0.698, 0.697, 0.5, 0.4)
    return {
        # 0.795 is lower than 0.8 but not by 1 %: waited; 0.79 is: improved.
        "relative_margin": Scenario("relative_margin", (margin,), 3, 0.01, 10),
        # Waits are reset by an improvement; stops at the third wait in a row.
        "reset_wait": Scenario(
            "reset_wait", ((2.0, 1.999, 1.998, 1.0, 0.999, 0.998, 0.997, 0.2),), 3, 0.01, 8
        ),
        # Improves by 5 % every epoch: never stops; the last epoch is the best.
        "steady": Scenario("steady", (tuple(round(0.95**e, 6) for e in range(6)),), 2, 0.01, 6),
        "other_parameters": Scenario(
            "other_parameters", (noisy(12, 2.0, 0.15),), 1, round(rng.uniform(0.05, 0.2), 3), 12
        ),
        "real_run": Scenario("real_run", (None,), 2, 0.02, 12),
        # The same instance, two fits: the second must start afresh.
        "fresh_state": Scenario(
            "fresh_state", (noisy(10, 0.5, 0.05), noisy(10, 3.0, 0.1)), 2, 0.01, 10
        ),
    }
