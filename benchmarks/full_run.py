"""Run chapters in full (not FAST) mode and record what they printed, for the prose.

Why: a number quoted in a chapter's prose must come from an executed full run, with the
hardware named. This script executes each notebook with ``KERASCOURSE_FAST=0``, offline,
in a fresh kernel (the same runner the tests use) and writes, per notebook,
``benchmarks/results/full_runs/<stem>.md``: the machine, the date, the wall time and every
line the notebook printed, cell by cell. Authors copy figures from there into the prose.

Run: .venv/bin/python benchmarks/full_run.py chapters/03_residual_inception.ipynb [...]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "full_runs"


def machine() -> str:
    """The hardware and software a full run ran on, in words."""
    import importlib.metadata as md

    keras = md.version("keras")
    try:
        tf = "tensorflow-cpu " + md.version("tensorflow-cpu")
    except md.PackageNotFoundError:
        tf = "tensorflow " + md.version("tensorflow")
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    return (
        f"{platform.machine()}, {os.cpu_count()} CPU cores, no GPU, Python "
        f"{platform.python_version()}, Keras {keras} ({backend} backend), {tf}"
    )


def printed_lines(notebook: object) -> list[tuple[int, str]]:
    """(code cell number, text) for every stdout stream and text result of the run."""
    found = []
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]  # type: ignore[attr-defined]
    for i, cell in enumerate(code_cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                found.append((i, out.get("text", "")))
            elif out.get("output_type") == "execute_result":
                found.append((i, out.get("data", {}).get("text/plain", "")))
    return found


def record(path: Path, timeout: int) -> Path:
    """Execute one notebook in full mode and write its results file; returns that file."""
    from kerascourse.runner import execute_notebook

    result = execute_notebook(path, fast=False, offline=True, timeout=timeout)
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / f"{path.stem}.md"
    lines = [
        f"# Full run of {path.relative_to(ROOT)}",
        "",
        f"- machine: {machine()}",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- wall time: {result.seconds:.0f} s (KERASCOURSE_FAST=0, offline)",
        f"- load average before the next run: {list(os.getloadavg())}",
        "",
        "What each code cell printed (cell numbers count code cells from 0):",
        "",
    ]
    for index, text in printed_lines(result.notebook):
        lines.append(f"## cell {index}")
        lines.append("```")
        lines.append(text.rstrip())
        lines.append("```")
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = OUT / "index.json"
    with open(OUT / "index.lock", "w") as lock:  # several runs may finish at once
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(summary.read_text()) if summary.exists() else {}
        data[str(path.relative_to(ROOT))] = {
            "seconds_full_mode": round(result.seconds, 1),
            "machine": machine(),
            "measured": time.strftime("%Y-%m-%d"),
        }
        summary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = parser.parse_args(argv)
    for nb in args.notebooks:
        target = record(nb.resolve(), args.timeout)
        print(f"{nb}: {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
