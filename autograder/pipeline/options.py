"""What a grading run is asked to do (:class:`GradeOptions`) and what it did
(:class:`GradingReport`).

Why a module of its own: the CLI, the benchmarks and the tests build options and read
reports without needing anything else of the pipeline; both are plain dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kerascourse.autograder.sandbox.policy import GIB

#: Statuses of a graded submission, for the summary.
STATUSES = ("graded", "failed", "crashed")


@dataclass(frozen=True)
class GradeOptions:
    """How to grade.

    Attributes:
        jobs: submissions graded at once. Defaults to `None` (the number of CPU cores).
        config_path: the instructor's private grader config (TOML). Defaults to `None`
            (``$KERASCOURSE_GRADER_CONFIG``, else the public defaults).
        timeout: wall-clock seconds for one submission's notebook run. Defaults to `900`.
        score_timeout: seconds for the trusted scorer of one model. Defaults to `900`.
        sandbox: ``"auto"``, ``"bwrap"`` (required) or ``"off"``. Defaults to `"auto"`.
        memory_bytes: ``RLIMIT_AS`` per process on CPU machines. Defaults to 4 GiB.
        progress: show a progress bar. Defaults to `True`.
        feedback: write feedback HTML. Defaults to `True`.
        export: write the grades CSV and the class report. Defaults to `True`.
        work_dir: where private courses are staged. Defaults to `None` (a temp folder).
        keep_work: keep the staging folders (debugging). Defaults to `False`.
        labs_dir: the lab sources, used when the course folder has to be set up.
            Defaults to `None` (the repository's ``labs/``).
        trusted_cache: score identical architectures once per config and grader code.
            Defaults to `True` (benchmarks turn it off to time every scoring).
        dask_scheduler: the address of a running Dask distributed scheduler
            (``"tcp://10.0.0.5:8786"``): each submission is graded by one of its workers
            instead of this machine's process pool (see "Grading on a cluster" in the
            README: shared file system, the kit installed alike, bubblewrap on every
            worker). Defaults to `None` (a local pool of `jobs` processes).
    """

    jobs: int | None = None
    config_path: str | None = None
    timeout: float = 900.0
    score_timeout: float = 900.0
    sandbox: str = "auto"
    memory_bytes: int | None = 4 * GIB
    progress: bool = True
    feedback: bool = True
    export: bool = True
    work_dir: str | None = None
    keep_work: bool = False
    labs_dir: str | None = None
    trusted_cache: bool = True
    dask_scheduler: str | None = None


@dataclass
class GradingReport:
    """What a grading run did: per-student records, where the outputs are, the sandbox."""

    lab_id: str
    course_dir: Path
    records: list[dict[str, Any]]
    graded_now: list[str]
    skipped: list[str]
    sandbox: str
    sandboxed: bool
    notes: list[str] = field(default_factory=list)
    feedback: dict[str, Path] = field(default_factory=dict)
    csv_path: Path | None = None
    report_path: Path | None = None
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Graded, failed, crashed and flagged students, and how many were skipped."""
        out = {s: 0 for s in STATUSES}
        out["flagged"] = 0
        for rec in self.records:
            out[rec.get("status", "failed")] = out.get(rec.get("status", "failed"), 0) + 1
            out["flagged"] += bool(rec.get("flags"))
        out["new"] = len(self.graded_now)
        out["skipped"] = len(self.skipped)
        return out

    def record(self, student_id: str) -> dict[str, Any]:
        """The record of one student; KeyError lists the known ids."""
        for rec in self.records:
            if rec["student_id"] == student_id:
                return rec
        msg = f"No record for {student_id!r}. Students: {[r['student_id'] for r in self.records]}"
        raise KeyError(msg)
