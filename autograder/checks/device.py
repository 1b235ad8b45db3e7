"""Device checks: did training really run on a GPU? Policy ``auto`` | ``always`` | ``never``.

Why three questions, not one: a GPU being *present* says nothing about where the model
ran (``with tf.device("/CPU:0")``, ``CUDA_VISIBLE_DEVICES=""`` or a CPU-only wheel all
leave it idle). So when a GPU is required we also look at where the model's weights live
and whether peak GPU memory grew while it trained.

This is the one module with backend-specific code: every branch is keyed on
``keras.backend.backend()`` and imports its library (TensorFlow, JAX, PyTorch) inside the
function. Importing this module imports none of them.

Testing: :func:`check_device` takes the probe results as optional arguments (``gpus``,
``on_gpu``), so the policy logic is unit-tested on CPU machines with injected values; the
real GPU branches run only on a machine with a GPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kerascourse.autograder.checks.keras_utils import import_keras
from kerascourse.autograder.core.results import CheckResult, DeviceError, GraderBugError

__all__ = [
    "POLICIES",
    "backend_name",
    "check_device",
    "enable_deterministic_ops",
    "gpu_devices",
    "gpu_peak_memory",
    "is_gpu_device",
    "reset_gpu_peak_memory",
    "weight_devices",
    "weights_on_gpu",
]

#: Device policies a lab may set: GPU required where the grader has one, always, or never.
POLICIES = ("auto", "always", "never")

_GPU_PREFIXES = ("gpu", "cuda", "rocm", "mps")


def backend_name() -> str:
    """The active Keras backend: ``tensorflow``, ``jax`` or ``torch``."""
    return str(import_keras().backend.backend())


def gpu_devices() -> list[str]:
    """GPUs the current backend can use, e.g. ``["GPU:0"]`` (TF), ``["gpu:0"]`` (JAX).

    Empty on a CPU-only machine or when the backend's build has no GPU support (a
    ``tensorflow-cpu`` wheel, CUDA hidden with ``CUDA_VISIBLE_DEVICES=""``).
    """
    backend = backend_name()
    if backend == "tensorflow":
        import tensorflow as tf

        return [
            d.name.replace("/physical_device:", "") for d in tf.config.list_physical_devices("GPU")
        ]
    if backend == "jax":
        import jax

        try:
            devices = jax.devices("gpu")
        except RuntimeError:  # no GPU backend initialised
            return []
        return [f"gpu:{d.id}" for d in devices]
    if backend == "torch":
        import torch

        found = [f"cuda:{i}" for i in range(torch.cuda.device_count())]
        mps = getattr(torch.backends, "mps", None)
        if not found and mps is not None and mps.is_available():
            found = ["mps:0"]
        return found
    return []


def is_gpu_device(device: str) -> bool:
    """Whether a device string names an accelerator (``GPU:0``, ``cuda:0``, ``gpu:1``)."""
    last = device.lower().rsplit("device:", 1)[-1].lstrip("/")
    return last.startswith(_GPU_PREFIXES)


def _variable_device(value: Any, backend: str) -> str:
    """Where one backend tensor/variable lives, as a short string (``GPU:0``, ``cpu:0``)."""
    if backend == "tensorflow":
        return str(value.device).rsplit("device:", 1)[-1] or "unknown"
    if backend == "jax":
        return ",".join(sorted(f"{d.platform}:{d.id}" for d in value.devices()))
    if backend == "torch":
        return str(value.device)
    return "unknown"


def weight_devices(model: Any) -> dict[str, str]:
    """Variable path -> device of each of the model's weights (read through ``Variable.value``)."""
    backend = backend_name()
    return {v.path: _variable_device(v.value, backend) for v in model.weights}


def weights_on_gpu(model: Any) -> bool:
    """Whether the model has weights and every one of them lives on a GPU."""
    devices = weight_devices(model)
    return bool(devices) and all(is_gpu_device(d) for d in devices.values())


def gpu_peak_memory() -> int | None:
    """Peak GPU memory allocated by this process (bytes, all GPUs), or None without a GPU.

    TF: ``tf.config.experimental.get_memory_info("GPU:i")["peak"]``; torch:
    ``torch.cuda.max_memory_allocated``; JAX: ``device.memory_stats()["peak_bytes_in_use"]``
    (None where the platform reports no stats).
    """
    gpus = gpu_devices()
    if not gpus:
        return None
    backend = backend_name()
    if backend == "tensorflow":
        import tensorflow as tf

        return sum(
            int(tf.config.experimental.get_memory_info(f"GPU:{i}")["peak"])
            for i in range(len(gpus))
        )
    if backend == "jax":
        import jax

        total = 0
        for device in jax.devices("gpu"):
            stats = device.memory_stats()
            if not stats or "peak_bytes_in_use" not in stats:
                return None
            total += int(stats["peak_bytes_in_use"])
        return total
    if backend == "torch":
        import torch

        if not torch.cuda.is_available():
            return None  # MPS has no peak statistic
        return sum(
            int(torch.cuda.max_memory_allocated(i)) for i in range(torch.cuda.device_count())
        )
    return None


def reset_gpu_peak_memory() -> bool:
    """Reset the peak-memory statistic before training; False where it cannot be reset.

    JAX has no reset: its peak covers the whole process, so measure in a fresh grader
    process where training is the largest allocation, and compare before/after.
    """
    gpus = gpu_devices()
    if not gpus:
        return False
    backend = backend_name()
    if backend == "tensorflow":
        import tensorflow as tf

        for i in range(len(gpus)):
            tf.config.experimental.reset_memory_stats(f"GPU:{i}")
        return True
    if backend == "torch":
        import torch

        if not torch.cuda.is_available():
            return False
        for i in range(torch.cuda.device_count()):
            torch.cuda.reset_peak_memory_stats(i)
        return True
    return False


def enable_deterministic_ops() -> None:
    """Ask the backend for deterministic kernels (same seed -> same weights).

    TF: ``tf.config.experimental.enable_op_determinism()`` (process-wide, and it makes TF
    raise on ops without a deterministic kernel instead of silently varying). JAX is
    deterministic on CPU and, for the ops Keras uses, on GPU. torch:
    ``torch.use_deterministic_algorithms(True, warn_only=True)``.
    """
    backend = backend_name()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    elif backend == "torch":
        import torch

        torch.use_deterministic_algorithms(True, warn_only=True)


_NO_GPU_ADVICE = (
    "Training must run on a GPU for this lab. On Colab: Runtime > Change runtime type > "
    "GPU, then Runtime > Run all. Locally: install a GPU build of your backend "
    "(pip install 'tensorflow[and-cuda]', or jax[cuda12], or torch with CUDA) and check "
    "that CUDA_VISIBLE_DEVICES does not hide the GPU."
)


def check_device(
    policy: str,
    *,
    model: Any = None,
    peak_before: int | None = None,
    peak_after: int | None = None,
    gpus: Sequence[str] | None = None,
    on_gpu: bool | None = None,
    raise_on_fail: bool = True,
) -> CheckResult:
    """Check where training ran, under a lab's device policy.

    ``auto``: a GPU is required exactly when this grading machine has one. ``always``: a
    GPU is required (fails on a CPU machine, with the fix). ``never``: always passes.
    When a GPU is required: the model's weights must be on it (if ``model`` or ``on_gpu``
    is given) and peak GPU memory must have grown during training (if both peaks are
    given; None means the backend could not report it, which is not held against anyone).

    Args:
        policy: one of ``POLICIES``.
        model: the trained model, whose weights are inspected. Defaults to `None`.
        peak_before, peak_after: :func:`gpu_peak_memory` around training. Defaults to `None`.
        gpus: the machine's GPUs; None asks the backend (:func:`gpu_devices`). Tests inject
            a list here. Defaults to `None`.
        on_gpu: whether the weights are on a GPU; None asks :func:`weights_on_gpu` when
            ``model`` is given. Tests inject a bool here. Defaults to `None`.
        raise_on_fail: raise :class:`DeviceError` on failure. Defaults to `True`.
    """
    if policy not in POLICIES:
        msg = f"Unknown device policy {policy!r}. Valid policies: {list(POLICIES)}."
        raise GraderBugError(msg)
    if policy == "never":
        return CheckResult("device", True, "GPU not checked", "any device (policy 'never')")
    found = list(gpu_devices() if gpus is None else gpus)
    details: dict[str, Any] = {"policy": policy, "gpus": found, "verified": []}
    if not found:
        if policy == "auto":
            return CheckResult(
                "device",
                True,
                "no GPU on this grading machine",
                "GPU required only where the grader has one",
                details=details,
            )
        result = CheckResult(
            "device", False, "no GPU on this machine", "training on a GPU", _NO_GPU_ADVICE, details
        )
        return _raise(result, raise_on_fail)
    allowed = f"training on the GPU ({', '.join(found)}; policy '{policy}')"
    if on_gpu is None and model is not None:
        on_gpu = weights_on_gpu(model)
        details["weight_devices"] = weight_devices(model)
    if on_gpu is not None:
        details["verified"].append("weights")
        details["weights_on_gpu"] = on_gpu
        if not on_gpu:
            result = CheckResult(
                "device",
                False,
                "the model's weights are not on the GPU",
                allowed,
                "Remove anything that forces the CPU (with tf.device('/CPU:0'), "
                "CUDA_VISIBLE_DEVICES, jax.default_device, .to('cpu')) and run the lab "
                "from the top so the model is built on the GPU.",
                details,
            )
            return _raise(result, raise_on_fail)
    if peak_before is not None and peak_after is not None:
        details["verified"].append("peak_memory")
        details["peak_before"] = peak_before
        details["peak_after"] = peak_after
        if peak_after <= peak_before:
            result = CheckResult(
                "device",
                False,
                f"peak GPU memory did not grow during training ({peak_before:,} -> "
                f"{peak_after:,} bytes)",
                allowed,
                "Training ran somewhere else than the GPU: train the model with model.fit "
                "after it was built on the GPU, without forcing the CPU.",
                details,
            )
            return _raise(result, raise_on_fail)
    measured = f"GPU present ({', '.join(found)})"
    if details["verified"]:
        measured += ", " + " and ".join(
            {"weights": "weights on the GPU", "peak_memory": "GPU memory grew in training"}[v]
            for v in details["verified"]
        )
    return CheckResult("device", True, measured, allowed, details=details)


def _raise(result: CheckResult, raise_on_fail: bool) -> CheckResult:
    if raise_on_fail and not result.passed:
        raise DeviceError(result)
    return result
