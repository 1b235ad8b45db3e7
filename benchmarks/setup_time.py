"""Measure the cold set-up behind `make lab` / `make test`: pip vs uv, side by side.

Each installer gets an empty virtual environment and an empty package cache, then installs
requirements.lock and the kit (editable), exactly as .ci/bootstrap does. We record wall
time, venv size, and the time of a second, already-set-up `make setup` (the idempotent
path). Results: benchmarks/results/setup.json and setup.md. Needs PyPI access; takes
several minutes. Run: make bench, or .venv/bin/python benchmarks/setup_time.py
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def cold_install(installer: str, work: Path) -> dict[str, float]:
    """Bootstrap a fresh venv with `installer` and empty caches; return seconds and MB."""
    venv = work / f"venv-{installer}"
    env = {**os.environ, "UV_CACHE_DIR": str(work / f"uv-cache-{installer}"),
           "PIP_NO_CACHE_DIR": "1", "PIP_CACHE_DIR": str(work / f"pip-cache-{installer}")}  # fmt: skip
    python = sys.executable if not sys.prefix.endswith(".venv") else shutil.which("python3")
    start = time.perf_counter()
    subprocess.run(
        ["bash", str(ROOT / ".ci" / "bootstrap"), python, str(venv), "requirements.lock",
         installer, "0.13.9"],
        cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    size_mb = _du(venv) / 1e6
    shutil.rmtree(venv, ignore_errors=True)
    return {"seconds": round(seconds, 1), "venv_mb": round(size_mb)}


def warm_make_setup() -> float:
    """Seconds for `make setup` when .venv is already up to date (the idempotent path)."""
    start = time.perf_counter()
    subprocess.run(["make", "--no-print-directory", "setup"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    return round(time.perf_counter() - start, 2)


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kc-setup-") as tmp:
        work = Path(tmp)
        results = {name: cold_install(name, work) for name in ("uv", "pip")}
    results["ratio_pip_over_uv"] = round(results["pip"]["seconds"] / results["uv"]["seconds"], 2)
    results["warm_make_setup_seconds"] = warm_make_setup()
    results["machine"] = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    results["measured"] = time.strftime("%Y-%m-%d")
    (RESULTS / "setup.json").write_text(json.dumps(results, indent=2) + "\n")
    md = [
        "# Cold set-up: pip vs uv",
        "",
        f"Measured {results['measured']} on {results['machine']}; empty venv and empty cache each,",
        "installing requirements.lock + the kit (editable), as `.ci/bootstrap` does.",
        "",
        "| installer | cold set-up (s) | venv size (MB) |",
        "|---|---|---|",
        f"| uv 0.13.9 | {results['uv']['seconds']} | {results['uv']['venv_mb']} |",
        f"| pip | {results['pip']['seconds']} | {results['pip']['venv_mb']} |",
        "",
        f"pip / uv time ratio: **{results['ratio_pip_over_uv']}x**. A second `make setup` with",
        f"an up-to-date .venv takes {results['warm_make_setup_seconds']} s (nothing to do).",
        "",
    ]
    (RESULTS / "setup.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
