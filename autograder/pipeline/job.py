"""What one submission's grading needs (:class:`Job`) and what its steps hand each other
(:class:`Work`).

Why a module of its own: a job crosses processes (a local worker or a Dask worker
unpickles it), so it is plain data, built once by the class run
(:mod:`kerascourse.autograder.pipeline.run`); each step module (``stage``, ``autograde``,
``score``, ``finalize``) reads the job and fills in the work, and the list of steps lives
in :mod:`kerascourse.autograder.pipeline.worker`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Job:
    """Everything a worker needs to grade one submission (plain data: crosses processes).

    Attributes:
        exports_code: the lab exports code (lab04's callback), not an architecture
            (:attr:`~kerascourse.autograder.core.spec.LabSpec.exports_code`): the trusted
            scorer then runs it in the same sandbox as the notebook.
    """

    lab_id: str
    notebook_id: str
    student_id: str
    sha256: str
    notebook_path: str
    origin: str
    timestamp: str | None
    flags: list[str]
    notes: list[str]
    job_dir: str
    release_path: str
    template_db: str
    nbgrader_config: str
    secrets: list[str]
    policy: dict[str, Any]
    info: dict[str, Any]
    trusted_cmd: list[str]
    score_timeout: float
    cache_dir: str | None
    cache_salt: str
    max_json_bytes: int
    export_file: str
    exports_code: bool
    autograded_ids: list[str]
    points: dict[str, float]
    threads: int | None


@dataclass
class Work:
    """One submission on its way through the steps (lives in the worker only).

    Attributes:
        out: the record being built (status, reason, flags, scores...); what
            :func:`~kerascourse.autograder.pipeline.worker.grade_one` returns.
        rw: the private course, the sandbox's one writable folder (deleted at the end).
        nb: the submitted notebook as parsed; None when it is not a readable notebook
            (then the steps that run it are skipped).
        release: the release notebook (what the final notebook is rebuilt from).
        run: the sandboxed ``nbgrader autograde`` run.
        executed: the executed notebook copied out of the sandbox (None: none usable).
        model_path: the export file copied out of the sandbox (None: none exported).
        trusted: the trusted scorer's result (None: nothing scored).
    """

    out: dict[str, Any]
    rw: Path
    nb: Any = None
    release: Any = None
    run: Any = None
    executed: Any = None
    model_path: Path | None = None
    trusted: dict[str, Any] | None = None
