"""Lab 04 — write an early-stopping callback to a specification; graded by running it.

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
(:mod:`kerascourse.autograder.callback_bridge` runs the callback in a sandboxed process)
and *scripts* the monitored value in most runs, so the right decision at every epoch is
known in advance; the weights it recorded at each epoch end say whether the restored
ones are the best epoch's. One run uses the real validation loss; the ``other_parameters``
and ``fresh_state`` runs draw their scripts from the grader's seed, so a private seed
gives runs no learner has seen.

Importing this module imports no Keras.
"""

from __future__ import annotations

import ast
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .callback_bridge import BridgeError, LocalClient, SandboxedClient, make_bridge
from .labspec import GradeCell, LabSpec, Recipe
from .results import CheckResult, GradingError, SpecificationError

__all__ = [
    "CLASS_NAME",
    "SPEC",
    "Expected",
    "Scenario",
    "expected_run",
    "scenarios",
    "score_callback",
]

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


# --------------------------------------------------------------------------- runs


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


def _digits(seed: int) -> tuple[Any, Any, Any, Any]:
    """Grader data for the runs: bundled 8x8 digits, flattened, a seeded 512/256 sample."""
    import numpy as np

    from kerascourse import datasets

    data = datasets.load("digits")
    x = np.concatenate([data.x_train, data.x_val]).reshape(-1, 64)
    y = np.concatenate([data.y_train, data.y_val])
    order = np.random.default_rng(seed).permutation(len(x))
    train, val = order[:512], order[512:768]
    return x[train], y[train], x[val], y[val]


def _small_model(seed: int) -> Any:
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


# --------------------------------------------------------------------------- checks


class CallbackScorer:
    """Runs each scenario once, when a check first needs it, and answers the named checks.

    One client (one worker process in the grader) serves every run; :meth:`close` stops it.
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
                self._data = _digits(self.seed)
                self._model = _small_model(self.seed)
            record = run_scenario(self._client, scenario, self._model, self._data)
        self.seconds += time.perf_counter() - start
        self.runs[name] = record
        return record

    def close(self) -> None:
        """Stop the client's worker, if one was started."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def run_check(self, name: str) -> tuple[CheckResult, GradingError | None]:
        """Run one named check (the interface of :class:`trusted.Scorer`)."""
        from .trusted import run_step

        return run_step(STEPS, name, self, SPEC.lab_id, SpecificationError)

    def measurements(self) -> dict[str, Any]:
        """Per run: epochs the learner's callback let ``fit`` run, for reports."""
        return {
            "epochs_run": {n: [len(f.values) for f in r.fits] for n, r in self.runs.items()},
            "seconds": round(self.seconds, 2),
        }


def _fail(check: str, measured: str, allowed: str, advice: str) -> CheckResult:
    return CheckResult(check, False, measured, allowed, advice)


def _run(s: CallbackScorer, name: str, check: str) -> RunRecord | CheckResult:
    record = s.record(name)
    if record.error is not None:
        advice = "Fix the error above; the notebook's self-check shows it the same way."
        return _fail(check, f"run '{name}': {record.error}", "a callback that runs", advice)
    return record


def _expected(record: RunRecord, fit: int = 0) -> Expected:
    sc = record.scenario
    return expected_run(record.fits[fit].values, sc.patience, sc.min_relative_delta, sc.epochs)


def _actions_of(decisions: Any) -> list[Any] | None:
    if not isinstance(decisions, list):
        return None
    return [d.get("action") if isinstance(d, dict) else None for d in decisions]


def _fmt_values(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.4g}" for v in values)


def _judge(
    s: CallbackScorer,
    check: str,
    names: Sequence[str],
    allowed: str,
    passed: str,
    judge: Callable[[str, RunRecord, int], tuple[str, str] | None],
) -> CheckResult:
    """Apply `judge` to every fit of the named runs; the first problem fails the check.

    `judge(name, record, fit_number)` returns None, or what was measured and the advice.
    """
    for name in names:
        record = _run(s, name, check)
        if isinstance(record, CheckResult):
            return record
        for fit_no in range(len(record.fits)):
            problem = judge(name, record, fit_no)
            if problem is not None:
                return _fail(check, problem[0], allowed, problem[1])
    return CheckResult(check, True, f"runs {', '.join(names)}: {passed}", allowed)


def _fit_label(name: str, fit_no: int) -> str:
    return f"run '{name}'" + (f" (fit {fit_no + 1})" if fit_no else "")


def _wrong_actions(name: str, record: RunRecord, fit_no: int) -> tuple[str, str] | None:
    """The improved/waited/stopped decision of every epoch equals the specification's."""
    sc, fit = record.scenario, record.fits[fit_no]
    want = _expected(record, fit_no).actions
    have = _actions_of(fit.decisions)
    if have is None:
        return (
            (
                f"{_fit_label(name, fit_no)}: self.decisions is {type(fit.decisions).__name__}, "
                "not a list"
            ),
            "Append one dict per epoch to self.decisions (reset in on_train_begin).",
        )
    have = [a for a in have if a != "restored"]
    if have == want:
        return None
    wrong = next((e for e, (h, w) in enumerate(zip(have, want, strict=False)) if h != w), None)
    at = len(min(have, want, key=len)) if wrong is None else wrong
    return (
        (
            f"{_fit_label(name, fit_no)} (patience={sc.patience}, min_relative_delta="
            f"{sc.min_relative_delta}, values {_fmt_values(fit.values)}): actions {have}; "
            f"expected {want}, the first difference at epoch {at}"
        ),
        (
            "An epoch improves only when value < best * (1 - min_relative_delta); anything "
            "else is one more epoch of waiting."
        ),
    )


def _wrong_stop(name: str, record: RunRecord, fit_no: int) -> tuple[str, str] | None:
    """``fit`` ran exactly as many epochs as the specification's stop allows."""
    sc, fit = record.scenario, record.fits[fit_no]
    want, ran = _expected(record, fit_no).epochs_run, len(record.fits[fit_no].values)
    if want == ran:
        return None
    should = f"should run {want}" if want else f"should not stop at epoch {ran - 1}"
    return (
        (
            f"{_fit_label(name, fit_no)} (patience={sc.patience}, values "
            f"{_fmt_values(fit.values)}): fit ran {ran} of {sc.epochs} epochs; it {should}"
        ),
        (
            "Set self.model.stop_training = True in on_epoch_end once `patience` epochs in a "
            "row did not improve (and only then)."
        ),
    )


def _wrong_weights(name: str, record: RunRecord, fit_no: int) -> tuple[str, str] | None:
    """The model ends with the weights it had at the end of the best epoch."""
    import numpy as np

    fit, best = record.fits[fit_no], _expected(record, fit_no).best_epoch
    if best is None:
        return None

    def same(weights: list[Any]) -> bool:
        return all(np.array_equal(a, b) for a, b in zip(fit.final_weights, weights, strict=True))

    if same(fit.weights[best]):
        return None
    match = [e for e, ws in enumerate(fit.weights) if same(ws)]
    had = f"epoch {match[-1]}'s" if match else "no epoch's"
    return (
        (
            f"{_fit_label(name, fit_no)}: the model ended with {had} weights; the best epoch "
            f"was {best} (the last ran: {len(fit.values) - 1})"
        ),
        (
            "Keep a copy of self.model.get_weights() when an epoch improves, and "
            "self.model.set_weights(...) it in on_train_end; reset it in on_train_begin so a "
            "second fit does not restore the first fit's."
        ),
    )


def _wrong_log(name: str, record: RunRecord, fit_no: int) -> tuple[str, str] | None:
    """``self.decisions`` is the full log: every epoch's entry, then the restore."""
    fit = record.fits[fit_no]
    problem = _log_problem(fit.decisions, _expected(record, fit_no).decisions(fit.values))
    if not problem:
        return None
    return (
        f"{_fit_label(name, fit_no)}: {problem}",
        (
            "One dict per decision with exactly the keys 'epoch' (int), 'value' (the monitored "
            "value) and 'action'; on_train_begin starts an empty list."
        ),
    )


ACTIONS_ALLOWED = "an 'action' per epoch as the specification decides (improved/waited/stopped)"
STOP_ALLOWED = "training stopped at the epoch of the patience-th wait in a row, never before"
RESTORE_ALLOWED = "the model's final weights are those recorded at the end of the best epoch"
LOG_ALLOWED = (
    "self.decisions == [{'epoch': e, 'value': v, 'action': a}, ...] ending with 'restored'"
)


def _actions_check(s: CallbackScorer, check: str, names: Sequence[str]) -> CheckResult:
    return _judge(s, check, names, ACTIONS_ALLOWED, "every decision right", _wrong_actions)


def _stops_check(s: CallbackScorer, check: str, names: Sequence[str]) -> CheckResult:
    return _judge(s, check, names, STOP_ALLOWED, "stopped when due", _wrong_stop)


def _restores_check(s: CallbackScorer, check: str, names: Sequence[str]) -> CheckResult:
    return _judge(s, check, names, RESTORE_ALLOWED, "best weights restored", _wrong_weights)


def _log_check(s: CallbackScorer, check: str, names: Sequence[str]) -> CheckResult:
    return _judge(s, check, names, LOG_ALLOWED, "the log is complete", _wrong_log)


def _log_problem(have: Any, want: list[dict[str, Any]]) -> str:
    if not isinstance(have, list):
        return f"self.decisions is {type(have).__name__}, not a list"
    if len(have) != len(want):
        return f"{len(have)} entries; the specification logs {len(want)}: {want}"
    for got, ref in zip(have, want, strict=False):
        if not isinstance(got, dict) or set(got) != {"epoch", "value", "action"}:
            keys = sorted(got) if isinstance(got, dict) else type(got).__name__
            return f"entry {got!r} has keys {keys}"
        value = got["value"]
        close = isinstance(value, (int, float)) and math.isclose(
            value, ref["value"], rel_tol=VALUE_RTOL
        )
        if got["epoch"] != ref["epoch"] or got["action"] != ref["action"] or not close:
            return f"entry {got!r}; expected {ref!r}"
    return ""


STEPS = {
    "relative_margin": lambda s: _actions_check(
        s, "relative_margin", ("relative_margin", "reset_wait")
    ),
    "other_parameters": lambda s: _actions_check(s, "other_parameters", ("other_parameters",)),
    "stops": lambda s: _stops_check(s, "stops", ("relative_margin", "reset_wait", "steady")),
    "real_run": lambda s: _stops_check(s, "real_run", ("real_run",)),
    "restores": lambda s: _restores_check(s, "restores", ("relative_margin", "steady")),
    "fresh_state": lambda s: _restores_check(s, "fresh_state", ("fresh_state",)),
    "decision_log": lambda s: _log_check(s, "decision_log", ("relative_margin", "steady")),
    "decision_log_runs": lambda s: _log_check(
        s, "decision_log_runs", ("other_parameters", "real_run", "fresh_state")
    ),
}


# --------------------------------------------------------------------------- scoring


def source_problem(source: str) -> str:
    """Why the exported source cannot be graded ('' when it can): syntax, no class."""
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        return f"submission_callback.py does not parse: {err.msg} (line {err.lineno})"
    names = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    if CLASS_NAME not in names:
        return f"submission_callback.py defines no class {CLASS_NAME} (classes: {names or 'none'})"
    return ""


def default_sandbox(secrets: Sequence[Path] = ()) -> tuple[Any, Any, list[Path]]:
    """Sandbox settings when the pipeline gave none: detect, hide the checkout."""
    from . import course as course_mod
    from . import sandbox as sb

    hidden = [Path(p) for p in secrets]
    checkout = course_mod.LABS_DIR.resolve().parent
    if (checkout / ".git").exists() or (checkout / "pyproject.toml").exists():
        hidden.append(checkout)
    else:
        hidden.append(course_mod.LABS_DIR.resolve())
    policy = sb.SandboxPolicy(timeout=600.0)
    return sb.detect(os.environ.get("KERASCOURSE_SANDBOX", "auto")), policy, hidden


def score_callback(
    lab: LabSpec,
    source: str | None,
    config: Any,
    *,
    path: str | None = None,
    sandbox: tuple[Any, Any, Sequence[Path]] | None = None,
) -> Any:
    """Score an exported callback source (None: nothing was exported) in this process.

    The learner's code runs only in the sandboxed worker; this process trains and judges.
    Never raises for anything the submission did.
    """
    from .trusted import FLAG_NO_MODEL, TrustedResult, _score_cell, _zero_result

    start = time.perf_counter()
    seed = config.for_lab(lab.lab_id).seed
    settings = {"seed": seed, "public_defaults": not config.is_private}
    problem = "" if source is None else source_problem(source)
    if source is None or problem:
        measured = problem or f"no {lab.export_file} was found"
        result = CheckResult(
            "export",
            False,
            measured,
            f"the file {lab.export_file} written by the notebook's last cell",
            f"Define class {CLASS_NAME} in its cell and run the whole notebook (Kernel > "
            "Restart & Run All) so that the last cell exports it, then submit again.",
        )
        out = _zero_result(lab, path, result, FLAG_NO_MODEL, settings)
        out.seconds = time.perf_counter() - start
        return out
    box = sandbox or default_sandbox()
    scorer = CallbackScorer(lambda: SandboxedClient(source, CLASS_NAME, box), seed)
    flags: list[str] = []
    try:
        cells = {cell.grade_id: _score_cell(scorer, cell, flags) for cell in lab.autograded}
    finally:
        scorer.close()
    return TrustedResult(
        lab.lab_id,
        path,
        cells,
        flags=flags,
        measurements=scorer.measurements(),
        config=settings,
        seconds=time.perf_counter() - start,
    )


def local_scorer(cls: type, seed: int) -> CallbackScorer:
    """The notebook's self-check: the same runs and checks, the class called in-process."""
    return CallbackScorer(lambda: LocalClient(cls), seed)


SPEC = LabSpec(
    lab_id="lab04_callbacks",
    notebook="lab04_callbacks.ipynb",
    grade_cells=(
        GradeCell(
            "q1_improvement",
            2,
            visible=("relative_margin",),
            hidden=("other_parameters",),
            title="an epoch improves only by the relative margin",
        ),
        GradeCell(
            "q2_stopping",
            2,
            visible=("stops",),
            hidden=("real_run",),
            title="training stops after `patience` epochs without improvement",
        ),
        GradeCell(
            "q3_restore",
            2,
            visible=("restores",),
            hidden=("fresh_state",),
            title="the best epoch's weights restored; a second fit starts afresh",
        ),
        GradeCell(
            "q4_decision_log",
            2,
            visible=("decision_log",),
            hidden=("decision_log_runs",),
            title="every decision logged",
        ),
        GradeCell("q5_written", 2, manual=True, title="relative against absolute margins"),
    ),
    inputs={},
    outputs={},
    required_layers=(),
    forbidden_layers=(),
    max_params=0,
    max_flops=0,
    max_time_ratio=0.0,
    quality_threshold=0.0,
    recipe=Recipe(optimizer="SGD", learning_rate=0.05, epochs=12, batch_size=64),
    public_data=_digits,
    reference_model=lambda: None,
    export_file="submission_callback.py",
    max_json_bytes=100_000,
    private_npz=False,
    submission="callback",
)
