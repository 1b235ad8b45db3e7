"""``kerascourse doctor``: is this environment ready for the course?

Why: a learner on Colab, Binder or a laptop hits the same handful of problems (wrong
Keras, TensorFlow missing, no CJK font, a corrupted data file). The doctor checks each,
prints one line per check with the fix, and exits non-zero when something *required* is
broken, so it can gate CI and an instructor's set-up script.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Literal

from kerascourse import platform, settings

Status = Literal["ok", "warn", "fail", "info"]

#: The oldest Python the pinned packages install on: nbgrader 0.9.6, numpy 2.x, scikit-learn
#: and matplotlib in requirements.lock all need 3.11 (on 3.10 only nbgrader 0.9.5 resolves).
#: pyproject's ``requires-python`` and ``.ci/bootstrap`` say the same (tests/test_python_floor.py).
MIN_PYTHON = (3, 11)
MIN_KERAS = (3, 8)


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report. ``fix`` is empty when nothing needs doing."""

    name: str
    status: Status
    detail: str
    fix: str = ""
    required: bool = True


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _installed(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def check_python(version_info: tuple[int, ...] | None = None) -> Check:
    """Python :data:`MIN_PYTHON` or newer (``version_info`` defaults to the running one)."""
    info = tuple(sys.version_info[:3]) if version_info is None else tuple(version_info)
    version = ".".join(map(str, info[:3]))
    if info[:2] >= MIN_PYTHON:
        return Check("Python", "ok", version)
    floor = ".".join(map(str, MIN_PYTHON))
    fix = (
        f"Python {floor}+ is needed (the locked nbgrader and numpy need it). Install Python "
        f"{floor} or newer, then: make clean-venv; make PYTHON=python{floor} lab"
    )
    return Check("Python", "fail", version, fix)


def check_keras() -> Check:
    """Keras 3 (the course does not support Keras 2 / tf_keras)."""
    version = _installed("keras")
    if version is None:
        return Check("Keras", "fail", "not installed", "pip install 'keras>=3.8' (or run make lab)")
    if _version_tuple(version) < MIN_KERAS:
        fix = "pip install -U 'keras>=3.8'; Keras 2 idioms are shown only in migration notes"
        return Check("Keras", "fail", version, fix)
    return Check("Keras", "ok", version)


def check_backend() -> Check:
    """The configured Keras backend is importable (TensorFlow by default)."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    dists = {
        "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-macos"),
        "jax": ("jax",),
        "torch": ("torch",),
        "numpy": ("numpy",),
    }.get(backend)
    if dists is None:
        fix = "Set KERAS_BACKEND to tensorflow, jax or torch"
        return Check("Keras backend", "fail", f"unknown backend {backend!r}", fix)
    found = [(d, v) for d in dists if (v := _installed(d))]
    if not found:
        fix = {
            "tensorflow": "pip install tensorflow-cpu (CPU) or 'tensorflow[and-cuda]' (GPU)",
            "jax": "pip install jax (CPU) or 'jax[cuda12]' (GPU)",
            "torch": "pip install torch",
        }.get(backend, "pip install numpy")
        return Check("Keras backend", "fail", f"{backend}: not installed", fix)
    dist, version = found[0]
    return Check("Keras backend", "ok", f"{backend} ({dist} {version})")


def check_gpu() -> Check:
    """GPUs visible to the backend. Optional: every chapter runs on CPU."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
        elif backend == "jax":
            import jax

            gpus = [str(d) for d in jax.devices() if d.platform == "gpu"]
        elif backend == "torch":
            import torch

            gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        else:
            gpus = []
    except Exception as exc:  # noqa: BLE001 - a broken backend is reported by check_backend
        return Check("GPU", "warn", f"could not query: {exc}", required=False)
    if gpus:
        return Check("GPU", "ok", ", ".join(gpus), required=False)
    fix = "optional: on Colab, Runtime > Change runtime type > GPU; locally see README (GPU)"
    return Check("GPU", "info", "none visible (CPU is fine for every chapter)", fix, required=False)


def check_platform() -> Check:
    """Where we run; informational."""
    detail = f"{platform.detect()}, {sys.platform}"
    if settings.is_fast():
        detail += ", FAST mode on"
    return Check("Platform", "info", detail, required=False)


def check_datasets() -> Check:
    """Every bundled file exists and matches its sha256 in the MANIFEST."""
    from kerascourse import datasets

    try:
        entries = datasets.verify()
    except (datasets.DataIntegrityError, datasets.MissingDataError) as exc:
        return Check("Bundled datasets", "fail", str(exc).splitlines()[0], _rebuild_hint(str(exc)))
    total = sum(e.size for e in entries) / 1e6
    return Check("Bundled datasets", "ok", f"{len(entries)} files, {total:.1f} MB, sha256 verified")


def _rebuild_hint(message: str) -> str:
    for line in message.splitlines():
        if "python -m kerascourse.datasets" in line:
            return line.strip()
    return "python -m kerascourse.datasets verify"


def check_cjk_font() -> Check:
    """The bundled CJK font (word clouds and Chinese plot labels)."""
    from kerascourse import datasets

    try:
        path = datasets.cjk_font_path()
    except (datasets.DataIntegrityError, datasets.MissingDataError) as exc:
        return Check("CJK font", "fail", str(exc).splitlines()[0], _rebuild_hint(str(exc)))
    return Check("CJK font", "ok", path.name)


def check_graphviz() -> Check:
    """graphviz's ``dot`` for keras.utils.plot_model; optional (chapters fall back)."""
    if shutil.which("dot") and _installed("pydot"):
        return Check("graphviz + pydot", "ok", "plot_model draws graphs", required=False)
    fix = "apt install graphviz (or brew install graphviz) and pip install pydot"
    return Check("graphviz + pydot", "warn", "plot_model falls back to text", fix, required=False)


CHECKS: list[Callable[[], Check]] = [
    check_python,
    check_keras,
    check_backend,
    check_gpu,
    check_platform,
    check_datasets,
    check_cjk_font,
    check_graphviz,
]


def run_checks(*, gpu: bool = True) -> list[Check]:
    """Run every check; a check that crashes is reported as failed, never raised."""
    results = []
    for check in CHECKS:
        if check is check_gpu and not gpu:
            continue
        try:
            results.append(check())
        except Exception as exc:  # noqa: BLE001 - the doctor must always print its table
            name = check.__name__.removeprefix("check_")
            results.append(Check(name, "fail", f"check crashed: {exc!r}", "report this bug"))
    return results


def exit_code(results: list[Check]) -> int:
    """1 when a required check failed, else 0."""
    return int(any(r.status == "fail" and r.required for r in results))


def render(results: list[Check]) -> None:
    """Print the report as a table (rich)."""
    from rich.console import Console
    from rich.table import Table

    marks = {
        "ok": "[green]ok[/]",
        "warn": "[yellow]warn[/]",
        "fail": "[red]FAIL[/]",
        "info": "info",
    }
    table = Table(title="kerascourse doctor", show_lines=False)
    for col in ("check", "status", "detail", "fix"):
        table.add_column(col, overflow="fold")
    for r in results:
        table.add_row(r.name, marks[r.status], r.detail, r.fix)
    console = Console(width=max(100, Console().width))
    console.print(table)
    if exit_code(results):
        console.print("[red]Something required is broken: apply the fix in its row.[/]")
    else:
        console.print("[green]Ready.[/]")


def as_dicts(results: list[Check]) -> list[dict[str, object]]:
    """The report as plain dicts (``kerascourse doctor --json``)."""
    return [asdict(r) for r in results]
