"""The trusted scorer's named steps: one small function per check name a lab spec uses.

Why a table of names: a lab's grade cell lists the *names* of its checks
(:class:`~kerascourse.autograder.core.spec.GradeCell`), so the lab notebook's test cell,
the in-kernel self-check and the trusted grader all run the very same step, looked up in
:data:`STEPS`. Each step reads what :class:`~kerascourse.autograder.trusted.measure.Measurer`
measured and returns a passed :class:`CheckResult` or raises a :class:`GradingError`
carrying the failed one; :func:`run_step` tells the submission's failure from a grader bug.
A lab whose export is not an architecture (lab04) keeps its own table and runs it through
:func:`run_step` too.

Importing this module imports no Keras.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kerascourse.autograder.core.results import (
    ArchitectureError,
    CheckResult,
    GraderBugError,
    GradingError,
    QualityError,
)
from kerascourse.autograder.trusted.measure import Measurer, Training

__all__ = ["STEPS", "run_step"]


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
# One small function per check name a lab spec uses; each returns a CheckResult or raises
# a GradingError carrying one.


def _step_inputs(s: Measurer) -> CheckResult:
    from kerascourse.autograder.checks.architecture import check_inputs

    return check_inputs(s.model_, s.lab.inputs)


def _step_outputs(s: Measurer) -> CheckResult:
    from kerascourse.autograder.checks.architecture import check_outputs

    return check_outputs(s.model_, s.lab.outputs)


def _step_probabilities(s: Measurer) -> CheckResult:
    """The output is a probability distribution (softmax): non-negative, rows sum to 1.

    Fed with random data of the *model's own* input shapes, so this property is judged
    on its own even when the input shape is wrong (the ``inputs`` check reports that).
    """
    import numpy as np
    from kerascourse.autograder.checks.quality import predict_numpy

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


def _step_layer_types(s: Measurer) -> CheckResult:
    from kerascourse.autograder.checks.architecture import check_contains

    return check_contains(s.model_, s.lab.required_layers)


def _step_connected(s: Measurer) -> CheckResult:
    from kerascourse.autograder.checks.architecture import check_connected

    return check_connected(s.model_)


def _step_forbidden(s: Measurer) -> CheckResult:
    from kerascourse.autograder.checks.architecture import check_forbidden

    return check_forbidden(s.model_, s.lab.forbidden_layers)


def _step_parameters(s: Measurer) -> CheckResult:
    from kerascourse.autograder.checks.budget import check_params

    return check_params(s.model_, s.lab.max_params)


def _step_flops(s: Measurer) -> CheckResult:
    from kerascourse.autograder.checks.budget import check_flops

    return check_flops(s.model_, s.lab.max_flops)


def _require_training(s: Measurer) -> Training:
    training = s.training
    if training.error is not None:
        raise ArchitectureError(training.error)
    return training


def _step_time_ratio(s: Measurer) -> CheckResult:
    from kerascourse.autograder.checks.budget import check_time_ratio

    training = _require_training(s)
    return check_time_ratio(
        training.epoch_times,
        training.reference_times,
        s.max_time_ratio,
        s.config.max_epoch_seconds,
        model=s.model_,
    )


def _step_device(s: Measurer) -> CheckResult:
    from kerascourse.autograder.checks.device import check_device

    training = _require_training(s)
    return check_device(
        s.config.device_policy,
        model=training.model,
        peak_before=training.peak_before,
        peak_after=training.peak_after,
    )


def _step_quality(s: Measurer) -> CheckResult:
    from kerascourse.autograder.checks.quality import METRICS, check_quality

    training = _require_training(s)
    _, higher_is_better = METRICS[s.lab.metric]
    return check_quality(training.quality, s.threshold, s.lab.metric, higher_is_better)


def _step_shared_layers(s: Measurer) -> CheckResult:
    """Each of the lab's shared layers is called on two or more inputs (shared weights)."""
    from kerascourse.autograder.checks.architecture import check_shared_layer

    for name in s.lab.shared_layers[:-1]:
        check_shared_layer(s.model_, name)  # raises on the first layer that is not shared
    return check_shared_layer(s.model_, s.lab.shared_layers[-1])


def _step_optimizer(s: Measurer) -> CheckResult:
    """The learner compiled the model with an allowed optimizer and learning rate."""
    result, _ = s.tuned_optimizer
    if not result.passed:
        raise ArchitectureError(result)
    return result


def _step_baseline(s: Measurer) -> CheckResult:
    """The grader-trained model beats the lab's non-deep baseline on the same data."""
    from dataclasses import replace

    from kerascourse.autograder.checks.quality import METRICS, check_quality

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


def _step_pretrained(s: Measurer) -> CheckResult:
    """The lab's pretrained weights load into the submitted model (``prepare_model``)."""
    if s.lab.prepare_model is None:
        msg = f"Lab {s.lab.lab_id} names the 'pretrained' check but has no prepare_model."
        raise GraderBugError(msg)
    return s.lab.prepare_model(s.model_)


def _step_frozen(s: Measurer) -> CheckResult:
    """Each of the lab's frozen layers is in the model with ``trainable=False``."""
    from kerascourse.autograder.checks.architecture import check_frozen

    return check_frozen(s.model_, s.lab.frozen_layers)


def _blocks_of(s: Measurer, kind: str, check: str) -> CheckResult:
    from kerascourse.autograder.checks.blocks import check_blocks

    return check_blocks(s.model_, [b for b in s.lab.blocks if b.kind == kind], check)


def _step_residual_blocks(s: Measurer) -> CheckResult:
    """Each residual block of the lab: output shape, parameters, an Add of two branches."""
    return _blocks_of(s, "residual", "residual_blocks")


def _step_inception_blocks(s: Measurer) -> CheckResult:
    """Each inception block of the lab: output shape, parameters, a Concatenate of towers."""
    return _blocks_of(s, "inception", "inception_blocks")


def _step_depth(s: Measurer) -> CheckResult:
    """The longest input-to-output path holds at least the lab's number of weighted layers."""
    import json

    from kerascourse.autograder.checks.blocks import check_depth
    from kerascourse.autograder.checks.twin import weighted_depth

    config = json.loads(s.json_text_ or "{}")
    depths = weighted_depth(config)
    return check_depth(max(depths.values(), default=0), s.lab.min_depth)


def _step_degradation(s: Measurer) -> CheckResult:
    """The model's final training loss beats its plain twin's by the lab's ratio."""
    from kerascourse.autograder.checks.blocks import check_degradation

    twin = s.twin_training  # first: a submission without shortcuts is refused untrained
    if twin.error is not None:
        raise ArchitectureError(twin.error)
    training = _require_training(s)
    return check_degradation(training.losses, twin.losses, s.lab.max_loss_ratio, s.epochs)


#: Check name (as a lab spec uses it) -> grading step.
STEPS: dict[str, Callable[[Measurer], CheckResult]] = {
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
