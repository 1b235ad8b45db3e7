"""Lab 04's grader runs: small models the grader trains with the learner's callback attached.

Why the grader trains: the callback is judged by what it decides on runs the grader
controls. One small model (seeded, compiled once) is reset to its initial weights before
every fit; :func:`run_scenario` attaches the bridge (:func:`.bridge.make_bridge`), which
scripts the monitored value and records the weights at every epoch end, and keeps what
each fit did (:class:`FitRecord`). :class:`CallbackRuns` runs each scenario once, when a
check first needs it, through one client (one sandboxed worker in the grader).

Importing this module imports no Keras.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from kerascourse.autograder.labs.lab04_callbacks.bridge import make_bridge
from kerascourse.autograder.labs.lab04_callbacks.rules import Scenario, scenarios
from kerascourse.autograder.labs.lab04_callbacks.wire import BridgeError

__all__ = ["CallbackRuns", "FitRecord", "RunRecord", "grader_data", "run_scenario", "small_model"]


@dataclass
class FitRecord:
    """What one ``fit`` of a run did, as the grader saw it."""

    values: list[float]
    weights: list[list[Any]]
    final_weights: list[Any]
    decisions: Any
    error: str | None


@dataclass
class RunRecord:
    """One scenario: its fits, or the error that stopped it."""

    scenario: Scenario
    fits: list[FitRecord] = field(default_factory=list)
    error: str | None = None


def grader_data(seed: int) -> tuple[Any, Any, Any, Any]:
    """Grader data for the runs: bundled 8x8 digits, flattened, a seeded 512/256 sample."""
    import numpy as np

    from kerascourse import datasets

    data = datasets.load("digits")
    x = np.concatenate([data.x_train, data.x_val]).reshape(-1, 64)
    y = np.concatenate([data.y_train, data.y_val])
    order = np.random.default_rng(seed).permutation(len(x))
    train, val = order[:512], order[512:768]
    return x[train], y[train], x[val], y[val]


def small_model(seed: int) -> Any:
    """The grader's model for the runs: 64 -> Dense(16) -> softmax(10), plain SGD.

    Its initial weights are kept as ``model.initial`` (every fit starts from them).
    """
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(64,), name="pixels")
    hidden = layers.Dense(16, activation="relu", name="hidden")(inputs)
    outputs = layers.Dense(10, activation="softmax", name="digit")(hidden)
    model = keras.Model(inputs, outputs, name="grader_run")
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.05),
        loss="sparse_categorical_crossentropy",
    )
    model.initial = model.get_weights()
    return model


def run_scenario(client: Any, scenario: Scenario, model: Any, data: tuple[Any, ...]) -> RunRecord:
    """Train the grader's model with the learner's callback (through `client`) attached.

    Every fit starts from the model's initial weights (``model.initial``) with a fresh
    optimizer state; the compiled model is reused, so a run costs its epochs only.
    """
    x, y, x_val, y_val = data
    record = RunRecord(scenario)
    for number, script in enumerate(scenario.scripts):
        model.set_weights(model.initial)
        model.optimizer.iterations.assign(0)  # plain SGD keeps no other state
        try:
            if number == 0:
                client.new(scenario.kwargs, model)
            else:
                client.attach(model)
        except BridgeError as err:
            record.error = str(err)
            return record
        bridge = make_bridge(client, script, "val_loss")
        model.fit(
            x,
            y,
            # A scripted run needs no validation pass: its monitored value is the script's.
            validation_data=(x_val, y_val) if script is None else None,
            epochs=scenario.epochs,
            batch_size=64,
            verbose=0,
            callbacks=[bridge],
        )
        decisions, error = None, bridge.error
        if error is None:
            try:
                decisions = client.state("decisions")
            except BridgeError as err:
                error = str(err)
        record.fits.append(
            FitRecord(bridge.values, bridge.weights, model.get_weights(), decisions, error)
        )
        if error is not None:
            record.error = error
            return record
    return record


class CallbackRuns:
    """Runs each scenario once, when a check first needs it, and keeps its record.

    One client (one worker process in the grader) serves every run; :meth:`close` stops it.
    The named checks (:mod:`.checks`) read the records through
    :class:`~.scorer.CallbackScorer`, which adds :meth:`~.scorer.CallbackScorer.run_check`.

    Args:
        client_factory: makes the client the runs call the learner's class through
            (:class:`~.local.LocalClient` or :class:`~.sandboxed.SandboxedClient`), once.
        seed: the grader's seed (the seeded scenarios' scripts, the data, the model).
    """

    def __init__(self, client_factory: Any, seed: int) -> None:
        self.client_factory = client_factory
        self.seed = seed
        self.scenarios = scenarios(seed)  # drawn once: the seeded scripts of every run
        self.seconds = 0.0
        self.runs: dict[str, RunRecord] = {}
        self._client: Any = None
        self._start_error: str | None = None
        self._model: Any = None
        self._data: Any = None

    def record(self, name: str) -> RunRecord:
        """The run named `name`, trained now if it has not been yet."""
        if name in self.runs:
            return self.runs[name]
        scenario = self.scenarios[name]
        start = time.perf_counter()
        if self._client is None and self._start_error is None:
            try:
                self._client = self.client_factory()
            except BridgeError as err:  # the worker never started: every run fails alike
                self._start_error = str(err)
        if self._start_error is not None:
            record = RunRecord(scenario, error=self._start_error)
        else:
            if self._model is None:
                self._data = grader_data(self.seed)
                self._model = small_model(self.seed)
            record = run_scenario(self._client, scenario, self._model, self._data)
        self.seconds += time.perf_counter() - start
        self.runs[name] = record
        return record

    def close(self) -> None:
        """Stop the client's worker, if one was started."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def measurements(self) -> dict[str, Any]:
        """Per run: epochs the learner's callback let ``fit`` run, for reports."""
        return {
            "epochs_run": {n: [len(f.values) for f in r.fits] for n, r in self.runs.items()},
            "seconds": round(self.seconds, 2),
        }
