"""Grading throughput: `kerascourse grade` vs plain `nbgrader autograde`, side by side.

Three ways to process the same N lab01 submissions (the lab's own solution, each with its
own written answer), measured on this machine in one run, repeated R times:

- ``pipeline``: ``kerascourse grade`` (sandboxed nbgrader run per submission, trusted
  scorer in a fresh process, gradebook merge), ``--jobs`` = CPU cores, with
  ``--no-score-cache`` (every submission is scored, as if all architectures differed) and
  without feedback and export (plain nbgrader autograde does neither).
- ``nbgrader``: one plain ``nbgrader autograde LAB`` over the class, which grades one
  submission at a time, runs the hidden tests in the student's kernel and trusts them.
- ``nbclient``: only executing the notebooks the pipeline's kernels execute (test cells
  stubbed), with the same parallelism: the floor under the pipeline's own overhead.

Figures: ratio = nbgrader / pipeline wall time (goal >= 1.8 on 2 cores), overhead =
pipeline / nbclient, and the coefficient of variation of the ratio over the R repetitions
(goal < 10%). All kernels run with KERASCOURSE_FAST=1 (the student's own training cell is
short in both). Never asserted in tests. Results: benchmarks/results/grading.json and
grading.md.

Run: ``.venv/bin/python benchmarks/grading_throughput.py [--n 20] [--repeats 3]``
(about 15-20 minutes per repetition for N=20 on a 2-core machine).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import copy
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
LAB = "lab01_functional_api"
SOURCE = ROOT / "labs" / LAB / f"{LAB}.ipynb"


def _solution(release):
    """The release notebook with the lab's own solution filled in."""
    import nbformat

    source = nbformat.read(SOURCE, as_version=4)
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid == "build_model":
            src = next(
                c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid
            )
            cell.source = "\n".join(ln for ln in src.source.splitlines() if "### " not in ln)
    return nb


def _answered(nb, i: int):
    out = copy.deepcopy(nb)
    for cell in out.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "q4_written":
            cell.source = f"Student {i}: subclass for dynamic control flow; lose the graph."
    return out


def _course(base: Path) -> tuple[Path, object]:
    import nbformat
    from kerascourse.autograder.pipeline import course

    course_dir = base / "course"
    course.setup_course(course_dir)
    release = course.generate_assignment(course_dir, LAB)
    return course_dir, nbformat.read(release, as_version=4)


def _env() -> dict[str, str]:
    from kerascourse.autograder.pipeline.course import nbgrader_env

    return {**nbgrader_env(), "KERASCOURSE_FAST": "1", "KERASCOURSE_OFFLINE": "1"}


def run_pipeline(base: Path, n: int, jobs: int) -> dict:
    """`kerascourse grade` over N submissions; wall seconds and per-step means."""
    import nbformat

    course, release = _course(base)
    folder = base / "in"
    solution = _solution(release)
    for i in range(n):
        path = folder / f"s{i:02d}" / f"{LAB}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(_answered(solution, i), path)
    cmd = [sys.executable, "-m", "kerascourse", "grade", LAB, str(folder), "--course", str(course)]
    cmd += ["--jobs", str(jobs), "--no-feedback", "--no-export", "--no-score-cache"]
    cmd += ["--no-progress"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    records = [
        json.loads(p.read_text())
        for p in (course / ".kerascourse" / "results" / LAB).glob("*.json")
    ]
    steps: dict[str, list[float]] = {}
    for rec in records:
        for name, value in rec.get("steps", {}).items():
            steps.setdefault(name, []).append(value)
    sandbox = next((ln for ln in proc.stdout.splitlines() if ln.startswith("sandbox:")), "")
    return {
        "seconds": round(seconds, 1),
        "returncode": proc.returncode,
        "graded": len(records),
        "mean_step_seconds": {k: round(statistics.mean(v), 2) for k, v in steps.items()},
        "scores": sorted({r.get("score") for r in records}),
        "statuses": sorted({r.get("status") for r in records}),
        "sandbox": sandbox.removeprefix("sandbox: "),
    }


def run_nbgrader(base: Path, n: int) -> dict:
    """One plain `nbgrader autograde LAB` over the class (serial by design)."""
    import nbformat

    course, release = _course(base)
    solution = _solution(release)
    for i in range(n):
        path = course / "submitted" / f"s{i:02d}" / LAB / f"{LAB}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(_answered(solution, i), path)
    from kerascourse.autograder.pipeline.course import nbgrader_command

    start = time.perf_counter()
    proc = subprocess.run(
        nbgrader_command("autograde", LAB),
        cwd=course,
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 1), "returncode": proc.returncode}


def _execute(path: str) -> float:
    from kerascourse.runner import execute_notebook

    return execute_notebook(path, fast=True, offline=True, timeout=600).seconds


def run_nbclient(base: Path, n: int, jobs: int) -> dict:
    """Execute the notebooks the pipeline's kernels run (tests stubbed), `jobs` at a time."""
    import nbformat
    from kerascourse.autograder.pipeline import TEST_STUB, is_test_cell

    _, release = _course(base)
    stubbed = _solution(release)
    for cell in stubbed.cells:
        if is_test_cell(cell):
            cell.source = TEST_STUB
    paths = []
    for i in range(n):
        path = base / "nb" / f"s{i:02d}" / f"{LAB}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(_answered(stubbed, i), path)
        paths.append(str(path))
    start = time.perf_counter()
    with cf.ProcessPoolExecutor(max_workers=jobs) as pool:
        per = list(pool.map(_execute, paths))
    seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 1), "mean_notebook_seconds": round(statistics.mean(per), 2)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="submissions (default 20)")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    runs = []
    for rep in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="kc-bench-grading-") as tmp:
            base = Path(tmp)
            load_before = os.getloadavg()[0]
            order = ["pipeline", "nbgrader", "nbclient"]
            if rep % 2:  # alternate the order so slow drift in load hits both sides
                order.reverse()
            result: dict[str, dict] = {}
            for name in order:
                where = base / name
                where.mkdir()
                if name == "pipeline":
                    result[name] = run_pipeline(where, args.n, args.jobs)
                elif name == "nbgrader":
                    result[name] = run_nbgrader(where, args.n)
                else:
                    result[name] = run_nbclient(where, args.n, args.jobs)
                print(f"rep {rep + 1}: {name} {result[name]['seconds']} s", flush=True)
            result["ratio"] = round(
                result["nbgrader"]["seconds"] / result["pipeline"]["seconds"], 3
            )
            result["overhead"] = round(
                result["pipeline"]["seconds"] / result["nbclient"]["seconds"], 3
            )
            result["load_avg_1min_before"] = round(load_before, 2)
            runs.append(result)
            shutil.rmtree(base, ignore_errors=True)
    ratios = [r["ratio"] for r in runs]
    mean = statistics.mean(ratios)
    cv = statistics.stdev(ratios) / mean if len(ratios) > 1 else None
    summary = {
        "what": "N lab01 submissions: kerascourse grade pipeline vs plain nbgrader autograde",
        "n": args.n,
        "repeats": args.repeats,
        "jobs": args.jobs,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "measured": time.strftime("%Y-%m-%d %H:%M"),
        "ratio_mean": round(mean, 3),
        "ratio_cv": round(cv, 4) if cv is not None else None,
        "overhead_mean": round(statistics.mean(r["overhead"] for r in runs), 3),
        "runs": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "grading.json").write_text(json.dumps(summary, indent=2) + "\n")
    (RESULTS / "grading.md").write_text(_markdown(summary))
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}, indent=2))


def _markdown(s: dict) -> str:
    cv = "n/a (one run)" if s["ratio_cv"] is None else f"{s['ratio_cv']:.1%}"
    lines = [
        "# Grading throughput",
        "",
        (
            f"{s['n']} lab01 submissions (the lab's solution), {s['repeats']} repetition(s), "
            f"{s['machine']['cpus']} CPU cores, `--jobs {s['jobs']}`, measured {s['measured']} "
            f"on {s['machine']['platform']}. Produced by `benchmarks/grading_throughput.py`; "
            "never asserted in tests."
        ),
        "",
        (
            "| repetition | pipeline (s) | nbgrader autograde, serial (s) | nbclient only (s) "
            "| ratio nbgrader/pipeline | overhead pipeline/nbclient | load before |"
        ),
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for i, r in enumerate(s["runs"], 1):
        lines.append(
            f"| {i} | {r['pipeline']['seconds']} | {r['nbgrader']['seconds']} | "
            f"{r['nbclient']['seconds']} | {r['ratio']:.2f} | {r['overhead']:.2f} | "
            f"{r['load_avg_1min_before']} |"
        )
    first = s["runs"][0]["pipeline"]
    lines += [
        "",
        (
            f"- ratio (mean): **{s['ratio_mean']:.2f}x** (goal >= 1.8x on 2 cores); coefficient "
            f"of variation over {s['repeats']} run(s): **{cv}** (goal < 10%)."
        ),
        (
            f"- pipeline overhead over executing the same notebooks with nbclient at the same "
            f"parallelism: **{s['overhead_mean']:.2f}x** (nbgrader start-up, sandbox, trusted "
            "scorer process, gradebook merge)."
        ),
        f"- pipeline steps, mean seconds per submission (run 1): {first['mean_step_seconds']}",
        (
            f"- pipeline scores seen: {first['scores']} (statuses {first['statuses']}); "
            f"sandbox: {first['sandbox']}"
        ),
        (
            "- The pipeline scores every submission in a trusted process (cache off here) and "
            "runs no test in the student's kernel; plain nbgrader runs the lab's visible and "
            "hidden tests in the kernel (the self-check trains the model there) and trusts them."
        ),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
