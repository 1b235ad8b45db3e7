"""What a grading worker runs for one submission: :func:`grade_one`, the ordered list of
named steps (:data:`STEPS`), and the warm process context the local pool starts from.

Why a list: like nbgrader's converters (a list of preprocessors), each step is a small
function ``step(job, work)`` in a module of its own, reading the :class:`~.job.Job` and
filling in the :class:`~.job.Work`; :func:`grade_one` times each one into the record's
``steps``. The class run (:mod:`kerascourse.autograder.pipeline.run`) only hands jobs to
workers and commits what comes back.

1. ``stage`` (:mod:`.stage`): the private course holding only the submission;
2. ``autograde`` (:mod:`.autograde`): the real ``nbgrader autograde`` in the sandbox;
3. ``copy_out`` (:mod:`.autograde`): the executed notebook and the export, nothing else;
4. ``score`` (:mod:`.score`): the trusted scorer in a fresh process, cached;
5. ``finalize`` (:mod:`.finalize`): the scores per cell and the notebook for ``autograded/``.

``grade_one`` is a top-level function of plain data in and out: the Dask path pickles it.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kerascourse.autograder.pipeline.autograde import autograde, copy_out
from kerascourse.autograder.pipeline.finalize import finalize
from kerascourse.autograder.pipeline.job import Job, Work
from kerascourse.autograder.pipeline.score import score
from kerascourse.autograder.pipeline.stage import stage


@dataclass(frozen=True)
class Step:
    """One named step of a submission's grading.

    Attributes:
        name: the key of its time in the record's ``steps``.
        run: ``run(job, work)``; records a student's fault in ``work.out``, never raises
            for it.
        needs_notebook: skipped when the submission is not a readable notebook.
            Defaults to `False`.
    """

    name: str
    run: Callable[[Job, Work], None]
    needs_notebook: bool = False


#: The ordered grading steps of one submission (one source of truth; see module docstring).
STEPS: tuple[Step, ...] = (
    Step("stage", stage),
    Step("autograde", autograde, needs_notebook=True),
    Step("copy_out", copy_out, needs_notebook=True),
    Step("score", score),
    Step("finalize", finalize),
)
#: The names of :data:`STEPS`, in order.
STEP_NAMES = tuple(step.name for step in STEPS)


def grade_one(job: Job) -> dict[str, Any]:
    """Grade one submission through :data:`STEPS`; never raises for a student's fault."""
    start = time.monotonic()
    out: dict[str, Any] = {
        "student_id": job.student_id,
        "sha256": job.sha256,
        "origin": job.origin,
        "timestamp": job.timestamp,
        "flags": list(job.flags),
        "notes": list(job.notes),
        "status": "graded",
        "reason": "",
        "sandboxed": job.info["kind"] == "bubblewrap",
        "graded_by": f"{socket.gethostname()}:{os.getpid()}",  # which worker (cluster runs)
    }
    if not out["sandboxed"]:
        out["flags"].append("sandbox unavailable")
    work = Work(out=out, rw=Path(job.job_dir) / "course")
    steps: dict[str, float] = {}
    out["steps"] = steps
    try:
        for step in STEPS:
            if step.needs_notebook and work.nb is None:
                continue
            begin = time.monotonic()
            try:
                step.run(job, work)
            finally:
                steps[step.name] = round(time.monotonic() - begin, 2)
    finally:
        if work.rw.exists():
            shutil.rmtree(work.rw, ignore_errors=True)
    out["seconds"] = round(time.monotonic() - start, 2)
    return out


#: Imported once by the fork server, so that each grading worker starts warm.
WORKER_PRELOAD = ["kerascourse.autograder.pipeline.worker", "nbformat", "nbgrader.preprocessors"]


def worker_context() -> Any:
    """``forkserver`` with the grading modules preloaded (spawn where there is none).

    Why not plain fork: the CLI's progress bar runs a thread, and forking a threaded
    process can deadlock the child. Why not spawn: every worker of every run would import
    nbformat and nbgrader again (about 4 s each on a 2-core machine).
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(WORKER_PRELOAD)
    return ctx
