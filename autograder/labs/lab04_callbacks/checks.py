"""Lab 04's named checks: each judges the grader's runs against the specification.

Why a judge per property: a grade cell names its checks (``relative_margin``, ``stops``,
``restores``, ``decision_log`` and their hidden twins on other runs), and each applies one
question to every fit of its runs (:func:`_judge`): were the actions the specification's
(:func:`.rules.expected_run`), did ``fit`` stop when due, were the best epoch's weights
restored, is the decision log complete. The first wrong fit fails the check with what
was measured and the fix. :data:`STEPS` maps the names to the checks, like the trusted
scorer's own table.

Importing this module imports no Keras.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from kerascourse.autograder.core.results import CheckResult
from kerascourse.autograder.labs.lab04_callbacks.rules import VALUE_RTOL, Expected, expected_run
from kerascourse.autograder.labs.lab04_callbacks.runs import CallbackRuns, RunRecord

__all__ = ["STEPS"]


def _fail(check: str, measured: str, allowed: str, advice: str) -> CheckResult:
    return CheckResult(check, False, measured, allowed, advice)


def _run(s: CallbackRuns, name: str, check: str) -> RunRecord | CheckResult:
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
    s: CallbackRuns,
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


def _actions_check(s: CallbackRuns, check: str, names: Sequence[str]) -> CheckResult:
    return _judge(s, check, names, ACTIONS_ALLOWED, "every decision right", _wrong_actions)


def _stops_check(s: CallbackRuns, check: str, names: Sequence[str]) -> CheckResult:
    return _judge(s, check, names, STOP_ALLOWED, "stopped when due", _wrong_stop)


def _restores_check(s: CallbackRuns, check: str, names: Sequence[str]) -> CheckResult:
    return _judge(s, check, names, RESTORE_ALLOWED, "best weights restored", _wrong_weights)


def _log_check(s: CallbackRuns, check: str, names: Sequence[str]) -> CheckResult:
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


#: Check name (as the lab's grade cells use it) -> check, on :class:`CallbackRuns`.
STEPS: dict[str, Callable[[CallbackRuns], CheckResult]] = {
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
