"""The trusted scorer: the score that counts, from a process that never ran student code.

Why a separate process: anything computed in the student's kernel can be patched,
hard-coded or hidden by the student's own code. The trusted scorer takes only the
architecture a lab exports (``submission_model.json``, the text of ``model.to_json()``),
rebuilds it with ``safe_mode=True`` after refusing anything but built-in Keras objects,
and then measures everything itself: architecture checks on the *rebuilt* model,
parameters and FLOPs, a training run with a fixed seed on grader-held data (timed per
epoch), the same for a reference model (for the time ratio), the device, and the accuracy
computed by grader code. Every autograded grade cell of the lab is scored from those
checks (:mod:`kerascourse.autograder.labspec` lists them by name).

Command line (a fresh process, what the grading pipeline runs per submission)::

    python -m kerascourse.autograder.trusted --lab lab01_functional_api \\
        --model submission_model.json --out result.json [--config private.toml]

Exit status: 0 when a result was written (whatever the score), 2 for a usage or
configuration error (unknown lab, bad config, grader data failing its hash; nothing
written), 1 when the scorer itself crashed.

The in-kernel self-check (:mod:`kerascourse.autograder.selfcheck`) runs the very same
steps through :class:`Scorer`, so a learner sees the grader's messages before submitting.

Importing this module imports no Keras.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from time import perf_counter  # bound at import: later patches of time.perf_counter do not count
from typing import Any

from .config import GraderConfig, GraderConfigError, load_config, load_npz
from .labspec import GradeCell, LabSpec, UnknownLabError, get_lab
from .results import ArchitectureError, CheckResult, GraderBugError, GradingError, QualityError

__all__ = [
    "FLAG_GRADER_ERROR",
    "FLAG_NO_MODEL",
    "FLAG_REFUSED",
    "CellScore",
    "Scorer",
    "TrustedResult",
    "main",
    "score_json",
    "score_submission",
]

#: Flags a result may carry (the pipeline's summary and the class report list them).
FLAG_NO_MODEL = "no model exported"
FLAG_REFUSED = "model refused"
FLAG_GRADER_ERROR = "grader error"

RESULT_SCHEMA = 1


# --------------------------------------------------------------------------- results


@dataclass
class CellScore:
    """The trusted score of one autograded grade cell.

    All-or-nothing like an nbgrader test cell: ``score`` is the cell's points when every
    check passed, else 0. ``results`` hold every check's measured/allowed/advice.
    """

    grade_id: str
    score: float
    max_score: float
    results: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether every check of the cell passed."""
        return bool(self.results) and all(r.passed for r in self.results)

    def messages(self) -> list[str]:
        """One line per check, as the learner sees them (``[ok] ...`` / ``[FAILED] ...``)."""
        return [r.message() for r in self.results]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for the JSON result file."""
        return {
            "grade_id": self.grade_id,
            "score": self.score,
            "max_score": self.max_score,
            "passed": self.passed,
            "messages": self.messages(),
            "results": [r.to_dict() for r in self.results],
        }


@dataclass
class TrustedResult:
    """The trusted grader's verdict on one submission of one lab.

    Attributes:
        lab_id: the lab.
        model_path: the architecture file that was scored (None when scored from text).
        cells: grade id -> :class:`CellScore`, for every autograded cell, in notebook order.
        flags: ``FLAG_*`` values that need an instructor's attention (empty when none).
        measurements: numbers behind the scores (parameters, FLOPs, accuracy, epoch times,
            time ratio, device), for the feedback and the class report.
        config: the grader settings used (thresholds, epochs, seed, data source and hash).
        seconds: wall time of the scoring.
    """

    lab_id: str
    model_path: str | None
    cells: dict[str, CellScore]
    flags: list[str] = field(default_factory=list)
    measurements: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def score(self) -> float:
        """Sum of the autograded cells' scores."""
        return float(sum(c.score for c in self.cells.values()))

    @property
    def max_score(self) -> float:
        """Sum of the autograded cells' points (manual cells are not included)."""
        return float(sum(c.max_score for c in self.cells.values()))

    def scores(self) -> dict[str, float]:
        """grade id -> score (what the pipeline writes into the gradebook)."""
        return {gid: cell.score for gid, cell in self.cells.items()}

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable dict (the ``--out`` file)."""
        return {
            "schema": RESULT_SCHEMA,
            "lab_id": self.lab_id,
            "model_path": self.model_path,
            "score": self.score,
            "max_score": self.max_score,
            "flags": list(self.flags),
            "cells": {gid: cell.to_dict() for gid, cell in self.cells.items()},
            "measurements": self.measurements,
            "config": self.config,
            "seconds": round(self.seconds, 3),
        }

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the JSON result atomically (a temp file moved into place)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, default=_jsonable) + "\n")
        tmp.replace(path)
        return path


def _jsonable(obj: Any) -> Any:
    """numpy scalars and tuples in check details -> plain JSON values."""
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


# --------------------------------------------------------------------------- the scorer


@dataclass
class GraderData:
    """The arrays the grader trains and measures on, and where they came from."""

    x_train: Any
    y_train: Any
    x_test: Any
    y_test: Any
    source: str


@dataclass
class Training:
    """What one grader training run of the student's model measured."""

    model: Any = None
    epoch_times: list[float] = field(default_factory=list)
    reference_times: list[float] = field(default_factory=list)
    quality: float | None = None
    peak_before: int | None = None
    peak_after: int | None = None
    error: CheckResult | None = None
    losses: list[float] = field(default_factory=list)


class Scorer:
    """Scores one architecture for one lab; each measurement is computed once, on demand.

    Constructing it stores its arguments only. :meth:`load` rebuilds the model (raising
    :class:`ArchitectureError` with the refusal message), :meth:`run_check` runs one named
    step. The training run (student and reference) happens the first time a check needs
    it and is reused by the others.

    Args:
        lab: the lab's spec.
        config: grader settings (already merged for this lab or not). Defaults to the
            public defaults.
        deterministic: ask the backend for deterministic kernels (the trusted process does;
            the in-kernel self-check does not change the learner's kernel). Defaults to
            `True`.
    """

    def __init__(
        self, lab: LabSpec, config: GraderConfig | None = None, *, deterministic: bool = True
    ) -> None:
        self.lab = lab
        self.base_config = config
        self.deterministic = deterministic
        self.model_: Any = None
        self.json_text_: str | None = None

    @cached_property
    def config(self) -> GraderConfig:
        """The grader config with this lab's ``[lab_id]`` overrides applied (validated)."""
        return (self.base_config or GraderConfig()).for_lab(self.lab.lab_id)

    # settings: the private config wins, the lab's public defaults fill in
    @property
    def epochs(self) -> int:
        """Epochs of the grader's training runs."""
        return self.config.epochs or self.lab.recipe.epochs

    @property
    def threshold(self) -> float:
        """Pass mark of the quality cell (on the lab's metric)."""
        return self.config.quality_threshold or self.lab.quality_threshold

    @cached_property
    def tuned_optimizer(self) -> tuple[CheckResult, dict[str, Any] | None]:
        """The optimizer the learner compiled (labs with ``tuned_optimizers`` only)."""
        from . import quality

        return quality.submitted_optimizer(
            self.json_text_ or "", self.lab.tuned_optimizers, self.lab.learning_rate_range
        )

    @property
    def max_time_ratio(self) -> float:
        """Largest allowed steady-state epoch time over the reference's."""
        return self.config.max_time_ratio or self.lab.max_time_ratio

    def settings(self) -> dict[str, Any]:
        """The effective settings, for the result file (the data path only as given)."""
        out = self.config.describe()
        out.update(
            epochs=self.epochs,
            quality_threshold=self.threshold,
            max_time_ratio=self.max_time_ratio,
            max_params=self.lab.max_params,
            max_flops=self.lab.max_flops,
            metric=self.lab.metric,
            batch_size=self.lab.recipe.batch_size,
            learning_rate=self.lab.recipe.learning_rate,
        )
        return out

    def load(self, json_text: str) -> Any:
        """Rebuild the model from its JSON text (refusal -> :class:`ArchitectureError`)."""
        from . import quality

        self.json_text_ = json_text
        self.model_ = quality.rebuild_model(json_text, max_bytes=self.lab.max_json_bytes)
        return self.model_

    @cached_property
    def data(self) -> GraderData:
        """Grader-held data: the private ``.npz`` (hash-checked) or the lab's public data."""
        if self.config.data:
            arrays = load_npz(self.config.data, self.config.data_sha256 or "")
            return GraderData(
                arrays["x_train"],
                arrays["y_train"],
                arrays["x_test"],
                arrays["y_test"],
                source=f"private: {Path(self.config.data).name}",
            )
        x_train, y_train, x_test, y_test = self.lab.public_data(self.config.seed)
        return GraderData(x_train, y_train, x_test, y_test, source="public: bundled data")

    @cached_property
    def training(self) -> Training:
        """Train the rebuilt student model and the reference model, timing their epochs.

        Epochs alternate (student, reference, student, ...) so that a burst of load on a
        shared machine slows both, not only one of them: the ratio is what is judged.
        The student's model gets the full recipe (its accuracy is the quality measure),
        the reference only ``recipe.reference_epochs`` (it is only timed). Each epoch is
        one ``fit`` call; Keras reuses the traced train function across calls, so only
        the first epoch carries tracing, and :func:`budget.steady_state` drops it.
        ``jit_compile=False`` for both models: the same kernels with and without op
        determinism (Keras turns XLA off under determinism), in the grader and in the
        learner's self-check alike.
        """
        from . import device, quality

        keras = _keras()
        recipe = self.lab.recipe
        data = self.data
        out = Training()
        if self.deterministic:
            device.enable_deterministic_ops()
        keras.utils.set_random_seed(self.config.seed)
        try:
            model = self._compiled(self.json_text_ or "")
        except GradingError as err:
            out.error = err.result
            return out
        reference = self.lab.reference_model()
        reference.compile(
            optimizer=self._optimizer(),
            loss=recipe.loss,
            loss_weights=recipe.loss_weights,
            jit_compile=False,
        )
        reference_epochs = min(self.epochs, recipe.reference_epochs)
        for epoch in range(self.epochs):
            try:
                if epoch == 0:
                    device.reset_gpu_peak_memory()
                    out.peak_before = device.gpu_peak_memory()
                out.epoch_times.append(self._fit_epoch(model, epoch, out.losses))
                if epoch == 0:
                    out.peak_after = device.gpu_peak_memory()
            except Exception as err:  # noqa: BLE001 - a model that cannot train is the submission's fault
                out.error = _training_failed(err, self.lab)
                return out
            if epoch < reference_epochs:
                out.reference_times.append(self._fit_epoch(reference, epoch))
        metric, _ = quality.METRICS[self.lab.metric]
        target = self.lab.metric_output
        y_test = data.y_test[target] if target else data.y_test
        try:
            out.quality = metric(model, data.x_test, y_test, output=target)
        except GradingError as err:
            out.error = err.result
            return out
        out.model = model
        return out

    @cached_property
    def twin_training(self) -> Training:
        """Train the plain twin (the submission without its shortcuts) as the model was.

        Same seed, data, optimizer, batch size and epochs as :attr:`training` (each run
        seeds itself, so their order does not matter), so the two final losses differ
        only by the shortcuts.
        """
        from . import device
        from .twin import TwinError, plain_twin

        out = Training()
        try:
            twin_json, _ = plain_twin(self.json_text_ or "")
        except TwinError as err:
            out.error = CheckResult(
                "degradation",
                False,
                f"no plain twin can be made: {err}",
                "a residual network: blocks that add a shortcut to their main branch",
                "Use keras.layers.add([main, shortcut]) in residual_block, where main is the "
                "output of the second BatchNormalization and shortcut the block's input (or "
                "its 1x1 projection).",
            )
            return out
        if self.deterministic:
            device.enable_deterministic_ops()
        _keras().utils.set_random_seed(self.config.seed)
        try:
            twin = self._compiled(twin_json)
            for epoch in range(self.epochs):
                out.epoch_times.append(self._fit_epoch(twin, epoch, out.losses))
        except Exception as err:  # noqa: BLE001 - a twin that cannot train: the submission's shape
            out.error = _training_failed(err, self.lab)
            return out
        out.model = twin
        return out

    def _compiled(self, json_text: str) -> Any:
        """Rebuild ``json_text``, let the lab prepare it (pretrained weights), compile it
        with the learner's optimizer and the recipe's loss: the student's model and its
        twin start the same way. Raises the submission's :class:`GradingError`."""
        from . import quality

        recipe = self.lab.recipe
        model = quality.rebuild_model(json_text, max_bytes=self.lab.max_json_bytes)
        if self.lab.prepare_model is not None:
            self.lab.prepare_model(model)
        model.compile(
            optimizer=self._student_optimizer(),
            loss=recipe.loss,
            loss_weights=recipe.loss_weights,
            jit_compile=False,
        )
        return model

    def _fit_epoch(self, model: Any, epoch: int, losses: list[float] | None = None) -> float:
        """Train one more epoch of ``model``; return its wall time in seconds.

        ``losses``, when given, gets the epoch's training loss (the mean over its batches).
        """
        start = perf_counter()
        history = model.fit(
            self.data.x_train,
            self.data.y_train,
            epochs=epoch + 1,
            initial_epoch=epoch,
            batch_size=self.lab.recipe.batch_size,
            shuffle=True,
            verbose=0,
        )
        seconds = perf_counter() - start
        if losses is not None:
            losses.append(float(history.history["loss"][-1]))
        return seconds

    def _optimizer(self) -> Any:
        recipe = self.lab.recipe
        return _keras().optimizers.get(
            {
                "class_name": recipe.optimizer,
                "config": {
                    "learning_rate": recipe.learning_rate,
                    **(recipe.optimizer_options or {}),
                },
            }
        )

    def _student_optimizer(self) -> Any:
        """The learner's tuned optimizer where the lab allows one and it is valid."""
        if self.lab.tuned_optimizers:
            _, chosen = self.tuned_optimizer
            if chosen is not None:
                return _keras().optimizers.get(chosen)
        return self._optimizer()

    def run_check(self, name: str) -> tuple[CheckResult, GradingError | None]:
        """Run one named check; return its result and the error a failure raises.

        A failure caused by the submission comes back as its :class:`GradingError`; a
        grader bug as a failed result whose check name ends in ``"(grader error)"``.
        """
        return run_step(STEPS, name, self, self.lab.lab_id)

    def measurements(self) -> dict[str, Any]:
        """Numbers behind the scores, for reports (training numbers only if it ran)."""
        out: dict[str, Any] = {}
        if self.model_ is not None:
            out["params"] = _safe(lambda: int(self.model_.count_params()))
            out["flops"] = _safe(lambda: _budget().count_flops(self.model_))
        if "training" in self.__dict__:
            t = self.training
            out[self.lab.metric] = t.quality
            if self.lab.tuned_optimizers:
                out["optimizer"] = self.tuned_optimizer[0].measured
            out["epoch_times"] = [round(s, 4) for s in t.epoch_times]
            out["reference_epoch_times"] = [round(s, 4) for s in t.reference_times]
            if len(t.epoch_times) > 1 and len(t.reference_times) > 1:
                budget = _budget()
                ratio = budget.steady_state(t.epoch_times) / budget.steady_state(t.reference_times)
                out["time_ratio"] = round(ratio, 3)
            out["data"] = self.data.source
            if t.losses:
                out["losses"] = [round(v, 4) for v in t.losses]
        if "twin_training" in self.__dict__ and self.twin_training.losses:
            out["twin_losses"] = [round(v, 4) for v in self.twin_training.losses]
        out["backend"] = _safe(lambda: _keras().backend.backend())
        return out


def _keras() -> Any:
    import keras

    return keras


def _budget() -> Any:
    from . import budget

    return budget


def _safe(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception:  # noqa: BLE001 - a report number must never stop the scoring
        return None


def _training_failed(err: Exception, lab: LabSpec) -> CheckResult:
    first = (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
    shapes = ", ".join(f"'{n}' {s}" for n, s in lab.inputs.items())
    return CheckResult(
        check="training",
        passed=False,
        measured=f"the grader could not train your model ({type(err).__name__}: {first})",
        allowed=f"a model that trains on inputs {shapes} with integer labels",
        advice="Fix the inputs and outputs test (q1) first: the grader feeds its images to "
        "your model's input and trains it with sparse categorical cross-entropy.",
    )


def run_step(
    steps: dict[str, Callable[[Any], CheckResult]],
    name: str,
    subject: Any,
    lab_id: str,
    failure: type[GradingError] = GradingError,
) -> tuple[CheckResult, GradingError | None]:
    """Run the step `name` of `steps` on `subject` (a scorer); the result and its error.

    A failure caused by the submission comes back with its own :class:`GradingError` (or
    `failure` when the step returned a failed result); a grader bug as a failed result
    whose check name ends in ``"(grader error)"``, with no error.
    """
    step = steps.get(name)
    if step is None:
        msg = f"Lab {lab_id} names an unknown check {name!r}. Known: {sorted(steps)}."
        raise GraderBugError(msg)
    try:
        result = step(subject)
    except GradingError as err:
        return err.result, err
    except Exception as err:  # noqa: BLE001 - reported as our bug, never as the student's
        return _grader_error(name, err), None
    return result, (None if result.passed else failure(result))


def _grader_error(name: str, err: BaseException) -> CheckResult:
    first = (str(err).strip().splitlines() or [""])[0][:300]
    return CheckResult(
        check=f"{name} (grader error)",
        passed=False,
        measured=f"the grader failed while checking ({type(err).__name__}: {first})",
        allowed="a grader that works",
        advice="This is the grader's fault, not yours: your instructor will review it.",
        details={"grader_error": True},
    )


# --------------------------------------------------------------------------- named steps
# One small function per check name used in labspec; each returns a CheckResult or raises
# a GradingError carrying one.


def _step_inputs(s: Scorer) -> CheckResult:
    from .architecture import check_inputs

    return check_inputs(s.model_, s.lab.inputs)


def _step_outputs(s: Scorer) -> CheckResult:
    from .architecture import check_outputs

    return check_outputs(s.model_, s.lab.outputs)


def _step_probabilities(s: Scorer) -> CheckResult:
    """The output is a probability distribution (softmax): non-negative, rows sum to 1.

    Fed with random data of the *model's own* input shapes, so this property is judged
    on its own even when the input shape is wrong (the ``inputs`` check reports that).
    """
    import numpy as np

    from .quality import predict_numpy

    model = s.model_
    (wanted, _), *_ = s.lab.outputs.items()
    names = list(model.output_names)
    out_name = wanted if wanted in names else names[0]
    allowed = "non-negative values that sum to 1 per example"
    rng = np.random.default_rng(0)
    feed = [
        rng.random((4, *[d or 8 for d in tuple(t.shape)[1:]])).astype(t.dtype or "float32")
        for t in model.inputs
    ]
    try:
        raw = predict_numpy(model, feed[0] if len(feed) == 1 else feed, output=out_name)
        pred = np.asarray(raw, dtype=np.float64).reshape(4, -1)
    except Exception as err:  # noqa: BLE001 - a model that cannot run on its own inputs
        result = CheckResult(
            "probabilities",
            False,
            f"your model fails on a batch of its own input shape ({type(err).__name__})",
            allowed,
            "Run model(x) on a batch of images in your notebook and fix the error it shows.",
        )
        raise ArchitectureError(result) from None
    sums = pred.sum(axis=1)
    ok = bool(np.all(pred >= -1e-6) and np.allclose(sums, 1.0, atol=1e-3))
    measured = f"'{out_name}' rows sum to {', '.join(f'{v:.3g}' for v in sums)}"
    measured += f", min value {pred.min():.3g}"
    advice = (
        ""
        if ok
        else f"End the model with a softmax: keras.layers.Dense({pred.shape[1]}, "
        f"activation='softmax', name='{wanted}')."
    )
    result = CheckResult("probabilities", ok, measured, allowed, advice)
    if not ok:
        raise ArchitectureError(result)
    return result


def _step_layer_types(s: Scorer) -> CheckResult:
    from .architecture import check_contains

    return check_contains(s.model_, s.lab.required_layers)


def _step_connected(s: Scorer) -> CheckResult:
    from .architecture import check_connected

    return check_connected(s.model_)


def _step_forbidden(s: Scorer) -> CheckResult:
    from .architecture import check_forbidden

    return check_forbidden(s.model_, s.lab.forbidden_layers)


def _step_parameters(s: Scorer) -> CheckResult:
    return _budget().check_params(s.model_, s.lab.max_params)


def _step_flops(s: Scorer) -> CheckResult:
    return _budget().check_flops(s.model_, s.lab.max_flops)


def _require_training(s: Scorer) -> Training:
    training = s.training
    if training.error is not None:
        raise ArchitectureError(training.error)
    return training


def _step_time_ratio(s: Scorer) -> CheckResult:
    training = _require_training(s)
    return _budget().check_time_ratio(
        training.epoch_times,
        training.reference_times,
        s.max_time_ratio,
        s.config.max_epoch_seconds,
        model=s.model_,
    )


def _step_device(s: Scorer) -> CheckResult:
    from .device import check_device

    training = _require_training(s)
    return check_device(
        s.config.device_policy,
        model=training.model,
        peak_before=training.peak_before,
        peak_after=training.peak_after,
    )


def _step_quality(s: Scorer) -> CheckResult:
    from .quality import METRICS, check_quality

    training = _require_training(s)
    _, higher_is_better = METRICS[s.lab.metric]
    return check_quality(training.quality, s.threshold, s.lab.metric, higher_is_better)


def _step_shared_layers(s: Scorer) -> CheckResult:
    """Each of the lab's shared layers is called on two or more inputs (shared weights)."""
    from .architecture import check_shared_layer

    for name in s.lab.shared_layers[:-1]:
        check_shared_layer(s.model_, name)  # raises on the first layer that is not shared
    return check_shared_layer(s.model_, s.lab.shared_layers[-1])


def _step_optimizer(s: Scorer) -> CheckResult:
    """The learner compiled the model with an allowed optimizer and learning rate."""
    result, _ = s.tuned_optimizer
    if not result.passed:
        raise ArchitectureError(result)
    return result


def _step_baseline(s: Scorer) -> CheckResult:
    """The grader-trained model beats the lab's non-deep baseline on the same data."""
    from dataclasses import replace

    from .quality import METRICS, check_quality

    training = _require_training(s)
    if s.lab.baseline is None:
        msg = f"Lab {s.lab.lab_id} names the 'baseline' check but has no baseline."
        raise GraderBugError(msg)
    d = s.data
    bar = float(s.lab.baseline(d.x_train, d.y_train, d.x_test, d.y_test))
    _, higher_is_better = METRICS[s.lab.metric]
    result = check_quality(
        training.quality, bar, s.lab.metric, higher_is_better, raise_on_fail=False
    )
    result = replace(
        result,
        check="baseline",
        allowed=f"better than the baseline's {s.lab.metric} {bar:.4f} on the same data",
        details={**result.details, "baseline": round(bar, 4)},
    )
    if not result.passed:
        raise QualityError(result)
    return result


def _step_pretrained(s: Scorer) -> CheckResult:
    """The lab's pretrained weights load into the submitted model (``prepare_model``)."""
    if s.lab.prepare_model is None:
        msg = f"Lab {s.lab.lab_id} names the 'pretrained' check but has no prepare_model."
        raise GraderBugError(msg)
    return s.lab.prepare_model(s.model_)


def _step_frozen(s: Scorer) -> CheckResult:
    """Each of the lab's frozen layers is in the model with ``trainable=False``."""
    from .architecture import check_frozen

    return check_frozen(s.model_, s.lab.frozen_layers)


def _blocks_of(s: Scorer, kind: str, check: str) -> CheckResult:
    from .blocks import check_blocks

    return check_blocks(s.model_, [b for b in s.lab.blocks if b.kind == kind], check)


def _step_residual_blocks(s: Scorer) -> CheckResult:
    """Each residual block of the lab: output shape, parameters, an Add of two branches."""
    return _blocks_of(s, "residual", "residual_blocks")


def _step_inception_blocks(s: Scorer) -> CheckResult:
    """Each inception block of the lab: output shape, parameters, a Concatenate of towers."""
    return _blocks_of(s, "inception", "inception_blocks")


def _step_depth(s: Scorer) -> CheckResult:
    """The longest input-to-output path holds at least the lab's number of weighted layers."""
    import json

    from .blocks import check_depth
    from .twin import weighted_depth

    config = json.loads(s.json_text_ or "{}")
    depths = weighted_depth(config)
    return check_depth(max(depths.values(), default=0), s.lab.min_depth)


def _step_degradation(s: Scorer) -> CheckResult:
    """The model's final training loss beats its plain twin's by the lab's ratio."""
    from .blocks import check_degradation

    twin = s.twin_training  # first: a submission without shortcuts is refused untrained
    if twin.error is not None:
        raise ArchitectureError(twin.error)
    training = _require_training(s)
    return check_degradation(training.losses, twin.losses, s.lab.max_loss_ratio, s.epochs)


#: Check name (as used in labspec) -> grading step.
STEPS: dict[str, Callable[[Scorer], CheckResult]] = {
    "inputs": _step_inputs,
    "outputs": _step_outputs,
    "probabilities": _step_probabilities,
    "layer_types": _step_layer_types,
    "connected": _step_connected,
    "forbidden_layers": _step_forbidden,
    "parameters": _step_parameters,
    "flops": _step_flops,
    "epoch_time_ratio": _step_time_ratio,
    "device": _step_device,
    "quality": _step_quality,
    "optimizer": _step_optimizer,
    "shared_layers": _step_shared_layers,
    "residual_blocks": _step_residual_blocks,
    "inception_blocks": _step_inception_blocks,
    "depth": _step_depth,
    "degradation": _step_degradation,
    "baseline": _step_baseline,
    "pretrained": _step_pretrained,
    "frozen": _step_frozen,
}


# --------------------------------------------------------------------------- scoring


def _zero_result(
    lab: LabSpec, path: str | None, result: CheckResult, flag: str, config: dict[str, Any]
) -> TrustedResult:
    cells = {
        cell.grade_id: CellScore(cell.grade_id, 0.0, float(cell.points), [result])
        for cell in lab.autograded
    }
    return TrustedResult(lab.lab_id, path, cells, flags=[flag], config=config)


def _score_cell(scorer: Scorer, cell: GradeCell, flags: list[str]) -> CellScore:
    results = []
    for name in cell.checks:
        result, _ = scorer.run_check(name)
        results.append(result)
        if result.details.get("grader_error") and FLAG_GRADER_ERROR not in flags:
            flags.append(FLAG_GRADER_ERROR)
    passed = all(r.passed for r in results)
    return CellScore(
        cell.grade_id, float(cell.points) if passed else 0.0, float(cell.points), results
    )


def _oversized(lab: LabSpec, size: int) -> CheckResult:
    return CheckResult(
        "export",
        False,
        f"{lab.export_file} is {size:,} bytes",
        f"at most {lab.max_json_bytes:,} bytes (an architecture is a few KB)",
        "Export model.to_json() only (the notebook's last cell does), not weights or data.",
    )


def _is_json_object(text: str) -> bool:
    """Whether the text parses as a JSON object (a model that was exported, maybe refused)."""
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


def score_json(
    lab_id: str,
    json_text: str | None,
    config: GraderConfig | None = None,
    *,
    model_path: str | None = None,
    deterministic: bool = True,
) -> TrustedResult:
    """Score an architecture given as JSON text (None: nothing was exported).

    Never raises for anything the submission did: a missing, invalid or refused model
    scores 0 on every autograded cell with the reason in each cell's messages and a flag.

    Raises:
        UnknownLabError: ``lab_id`` is not a known lab.
        GraderConfigError, DataIntegrityError: the grader's own configuration or data is
            wrong (no score is computed rather than a wrong one).
    """
    start = time.perf_counter()
    lab = get_lab(lab_id)
    scorer = Scorer(lab, config or load_config(), deterministic=deterministic)
    settings = scorer.settings()
    scorer.data  # noqa: B018 - verify the grader data first: no score rather than a wrong one
    if json_text is None:
        result = CheckResult(
            "export",
            False,
            f"no {lab.export_file} was found",
            f"the architecture file {lab.export_file} written by the notebook's last cell",
            "Run the whole notebook (Kernel > Restart & Run All) so that its last cell "
            "exports your model, then submit again.",
        )
        out = _zero_result(lab, model_path, result, FLAG_NO_MODEL, settings)
        out.seconds = time.perf_counter() - start
        return out
    size = len(json_text.encode("utf-8", errors="replace"))
    if size > lab.max_json_bytes:
        out = _zero_result(lab, model_path, _oversized(lab, size), FLAG_NO_MODEL, settings)
        out.seconds = time.perf_counter() - start
        return out
    try:
        scorer.load(json_text)
    except ArchitectureError as err:
        flag = FLAG_REFUSED if _is_json_object(json_text) else FLAG_NO_MODEL
        out = _zero_result(lab, model_path, err.result, flag, settings)
        out.seconds = time.perf_counter() - start
        return out
    flags: list[str] = []
    cells = {cell.grade_id: _score_cell(scorer, cell, flags) for cell in lab.autograded}
    return TrustedResult(
        lab.lab_id,
        model_path,
        cells,
        flags=flags,
        measurements=scorer.measurements(),
        config=settings,
        seconds=time.perf_counter() - start,
    )


def score_submission(
    lab_id: str,
    architecture_json_path: str | os.PathLike[str],
    config: GraderConfig | None = None,
    *,
    deterministic: bool = True,
    sandbox: tuple[Any, Any, list[Path]] | None = None,
) -> TrustedResult:
    """Score the file a lab's notebook exported (``submission_model.json``).

    Args:
        lab_id: a lab id (``"lab01_functional_api"``).
        architecture_json_path: the exported file; a missing, empty, unreadable or
            oversized file scores 0 with the flag ``"no model exported"``.
        config: grader settings. Defaults to :func:`load_config` (``--config`` /
            ``$KERASCOURSE_GRADER_CONFIG`` / public defaults).
        deterministic: deterministic backend kernels. Defaults to `True`.
        sandbox: ``(SandboxInfo, SandboxPolicy, secrets)`` for a lab whose export is code
            (lab04's callback, run in a sandboxed worker). Defaults to detecting the
            sandbox and hiding the repository checkout.

    Returns:
        A :class:`TrustedResult`; ``result.scores()`` maps grade ids to points.
    """
    lab = get_lab(lab_id)
    path = Path(architecture_json_path)
    if lab.submission == "callback":
        from .lab04 import score_callback

        source = _read_export(path, lab.max_json_bytes)
        return score_callback(lab, source, config or load_config(), path=str(path), sandbox=sandbox)
    text: str | None = None
    if path.is_file() and path.stat().st_size > 0:
        size = path.stat().st_size
        if size > lab.max_json_bytes:
            scorer = Scorer(lab, config or load_config())
            scorer.data  # noqa: B018 - as in score_json: bad grader data stops everything
            result = _oversized(lab, size)
            return _zero_result(lab, str(path), result, FLAG_NO_MODEL, scorer.settings())
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = "\x00 unreadable"  # rebuild_model refuses it with "not valid JSON"
    return score_json(lab_id, text, config, model_path=str(path), deterministic=deterministic)


def _read_export(path: Path, limit: int) -> str | None:
    """The exported text; None when missing, empty, oversized or not UTF-8."""
    if not path.is_file() or not 0 < path.stat().st_size <= limit:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def read_sandbox_spec(path: str) -> tuple[Any, Any, list[Path]]:
    """The sandbox the grading pipeline uses, as it wrote it for this scorer (JSON)."""
    from . import sandbox as sb

    data = json.loads(Path(path).read_text())
    return (
        sb.SandboxInfo(**data["info"]),
        sb.SandboxPolicy(**data["policy"]),
        [Path(p) for p in data["secrets"]],
    )


# --------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser (exposed for tests and ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m kerascourse.autograder.trusted",
        description="Score a lab's exported architecture in this (trusted) process.",
        epilog="example:\n  python -m kerascourse.autograder.trusted --lab lab01_functional_api "
        "--model submission_model.json --out result.json --config /srv/grading/private.toml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--lab", required=True, help="lab id, e.g. lab01_functional_api")
    parser.add_argument(
        "--model",
        "--submission",
        dest="model",
        required=True,
        help="the exported file (submission_model.json; lab04: submission_callback.py)",
    )
    parser.add_argument("--out", required=True, help="where to write the JSON result")
    parser.add_argument(
        "--config",
        default=None,
        help="private grader config (TOML); default: $KERASCOURSE_GRADER_CONFIG or public",
    )
    parser.add_argument(
        "--sandbox-spec",
        default=None,
        help="JSON written by the grading pipeline: the sandbox for code a lab exports",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 scored, 2 usage/config error, 1 crash)."""
    from kerascourse.datasets import DataIntegrityError

    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config)
        sandbox = None
        if get_lab(args.lab).submission == "callback":
            from .lab04 import default_sandbox

            secret = [Path(args.config).expanduser().resolve()] if args.config else []
            spec = args.sandbox_spec
            sandbox = read_sandbox_spec(spec) if spec else default_sandbox(secret)
        result = score_submission(args.lab, args.model, config, sandbox=sandbox)
    except (UnknownLabError, GraderConfigError, DataIntegrityError) as err:
        sys.stderr.write(f"trusted grader: {err}\n")
        return 2
    result.write(args.out)
    summary = f"{result.lab_id}: {result.score:g}/{result.max_score:g}"
    if result.flags:
        summary += f" (flags: {', '.join(result.flags)})"
    sys.stdout.write(summary + "\n")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    sys.exit(main())
