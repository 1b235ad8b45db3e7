"""What the trusted scorer measures of one architecture: the grader's own training runs.

Why measurements apart from the checks: every named step (:mod:`.steps`) reads the same
few facts (the rebuilt model, the grader's data, one training run of the student's model
and the reference, the plain twin's run), and each costs a training run, so
:class:`Measurer` computes each once, on demand, and the steps only judge them.
:class:`~kerascourse.autograder.trusted.engine.Scorer` puts the two together.

Nothing here trusts the learner's kernel: the model is rebuilt from its exported JSON
(``safe_mode=True``), trained with a fixed seed on grader-held data and timed per epoch.

Importing this module imports no Keras.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from time import perf_counter  # bound at import: later patches of time.perf_counter do not count
from typing import Any

from kerascourse.autograder.core.config import GraderConfig, load_npz
from kerascourse.autograder.core.results import CheckResult, GradingError
from kerascourse.autograder.core.spec import LabSpec

__all__ = ["GraderData", "Measurer", "Training"]


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


class Measurer:
    """Measures one architecture for one lab; each measurement is computed once, on demand.

    Constructing it stores its arguments only. :meth:`load` rebuilds the model (raising
    :class:`ArchitectureError` with the refusal message). The training run (student and
    reference) happens the first time a step needs it and is reused by the others. The
    named steps run on it through :class:`~kerascourse.autograder.trusted.engine.Scorer`.

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
        from kerascourse.autograder.checks import quality

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
        from kerascourse.autograder.checks import quality

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
        from kerascourse.autograder.checks import device, quality

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
        from kerascourse.autograder.checks import device
        from kerascourse.autograder.checks.twin import TwinError, plain_twin

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
        from kerascourse.autograder.checks import quality

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
    from kerascourse.autograder.checks import budget

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
