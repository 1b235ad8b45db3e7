"""Peak memory: growth of the grader process's resident memory around a call, and its limit.

Why in the grader's own process: the learner's kernel can report any number, while the
grader measures the call it runs itself (CPU memory only; GPU memory is in ``device``).

Importing this module imports no Keras.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from kerascourse.autograder.checks.keras_utils import finish
from kerascourse.autograder.core.results import BudgetExceededError, CheckResult, GraderBugError

__all__ = ["check_peak_memory", "measure_peak_rss"]


def _rss_sampler() -> Callable[[], int] | None:
    """A function returning the current resident set size in bytes (psutil), or None."""
    try:
        import psutil
    except ImportError:
        return None
    process = psutil.Process()
    return lambda: int(process.memory_info().rss)


def measure_peak_rss(fn: Callable[[], Any], *, interval_s: float = 0.005) -> int:
    """Peak growth of this process's resident memory (bytes) while ``fn()`` runs.

    With psutil (a Jupyter dependency, so normally present): a daemon thread samples RSS
    every ``interval_s``; one more sample is taken after ``fn`` returns while its return
    value is still alive. Limits: a spike shorter than the interval can be missed; RSS is
    the whole process (other threads count too); memory the allocator keeps from before
    ``fn`` is reused without growth, so the figure is growth over the baseline, not the
    footprint of ``fn`` alone; GPU memory is not included (see ``device.gpu_peak_memory``).

    Without psutil, falls back to ``resource.getrusage(...).ru_maxrss`` before and after
    (Unix only): that is the lifetime maximum, so it only sees growth above every earlier
    peak of the process and underestimates in a long-lived process.
    """
    sample = _rss_sampler()
    if sample is None:
        return _peak_rss_from_rusage(fn)
    baseline = sample()
    peak = baseline
    stop = threading.Event()

    def poll() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, sample())
            stop.wait(interval_s)

    thread = threading.Thread(target=poll, name="kerascourse-rss", daemon=True)
    thread.start()
    try:
        value = fn()
        peak = max(peak, sample())
        del value
    finally:
        stop.set()
        thread.join()
    return max(0, peak - baseline)


def _peak_rss_from_rusage(fn: Callable[[], Any]) -> int:
    import sys

    try:
        import resource
    except ImportError:  # Windows without psutil
        msg = "measure_peak_rss needs psutil on this platform: pip install psutil."
        raise GraderBugError(msg) from None

    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fn()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return max(0, (after - before) * scale)


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def check_peak_memory(
    measured_bytes: int, max_bytes: int, *, raise_on_fail: bool = True
) -> CheckResult:
    """Check a measured peak memory growth (from :func:`measure_peak_rss`) against a limit."""
    details = {"peak_bytes": measured_bytes, "max_bytes": max_bytes}
    measured = f"peak memory grew by {_mib(measured_bytes)}"
    allowed = f"at most {_mib(max_bytes)}"
    if measured_bytes <= max_bytes:
        return CheckResult("peak_memory", True, measured, allowed, "", details)
    advice = (
        f"That is {measured_bytes / max(max_bytes, 1):.1f}x the limit: use a smaller "
        "batch_size, fewer parameters, or avoid keeping copies of the data (e.g. one-hot "
        "labels, float64 arrays)."
    )
    result = CheckResult("peak_memory", False, measured, allowed, advice, details)
    return finish(result, raise_on_fail, BudgetExceededError)
