"""``kerascourse grade``: a whole class, in parallel, sandboxed, scored by the trusted grader.

Why a pipeline around nbgrader rather than ``nbgrader autograde`` alone: nbgrader grades one
submission at a time, runs every kernel with the grader's rights next to the gradebook and
the lab sources, and trusts the kernel's own test outputs. Here a class run is a short list
of named steps, each in a module of its own:

1. ``collect`` (:mod:`.collect`): whose notebook is whose, from a folder or a zip;
2. per submission, in a pool of worker processes (:func:`.worker.grade_one`, its
   :data:`~.worker.STEPS`): ``stage`` (a private nbgrader course holding only the
   notebook, see :mod:`.stage`), ``autograde`` and ``copy_out`` (the real
   ``nbgrader autograde`` in the sandbox, see :mod:`.autograde`), ``score`` (the trusted
   scorer in a fresh process, cached, see :mod:`.score`), ``finalize`` (the notebook for
   ``autograded/`` with the trusted messages, see :mod:`.finalize`);
3. ``merge`` (:mod:`.commit`): the parent alone writes the main gradebook, then the
   student's record in the results store (:mod:`.store`), so a re-run grades nothing twice
   and a killed run loses nothing;
4. ``feedback``, ``export`` and ``class report`` (:mod:`.outputs`).

This module holds :func:`grade_lab` and the run that drives those steps; the course it
works in is :mod:`.courseinfo` and :mod:`.course`, the sandbox's hidden paths
:mod:`.secrets`.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kerascourse.autograder import sandbox as sb
from kerascourse.autograder.pipeline.collect import Submission, collect_submissions
from kerascourse.autograder.pipeline.commit import collect_result, commit
from kerascourse.autograder.pipeline.courseinfo import (
    build_template_gradebook,
    prepare_course,
    private_config,
    read_course,
)
from kerascourse.autograder.pipeline.job import Job
from kerascourse.autograder.pipeline.options import GradeOptions, GradingReport
from kerascourse.autograder.pipeline.outputs import write_outputs
from kerascourse.autograder.pipeline.score import cache_salt
from kerascourse.autograder.pipeline.secrets import secret_paths
from kerascourse.autograder.pipeline.store import ResultsStore
from kerascourse.autograder.pipeline.worker import grade_one, worker_context


def grade_lab(
    lab_id: str,
    submissions: str | Path,
    course_dir: str | Path,
    options: GradeOptions | None = None,
    *,
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
) -> GradingReport:
    """Grade every new submission of `lab_id` in `submissions` into the course `course_dir`.

    Args:
        lab_id: the lab (nbgrader assignment id).
        submissions: nbgrader ``submitted/`` folder, a folder of notebooks or a ``.zip``
            (see :mod:`kerascourse.autograder.pipeline.collect`).
        course_dir: the instructor's nbgrader course (set up and the lab released here
            when needed).
        options: see :class:`GradeOptions`. Defaults to `None` (the defaults).
        on_event: called as ``on_event(kind, data)`` with ``"start"`` (total, skipped) and
            ``"done"`` (the record) events; the CLI draws its progress bar from them.

    Raises:
        kerascourse.autograder.core.spec.UnknownLabError: unknown lab id (lists valid ones).
        kerascourse.autograder.core.config.GraderConfigError: bad private config.
        ValueError: no submissions found (lists the accepted layouts).
    """
    return _ClassRun(lab_id, Path(submissions), Path(course_dir), options or GradeOptions()).run(
        on_event or (lambda kind, data: None)
    )


class _ClassRun:
    """One ``kerascourse grade`` run; the constructor only stores its arguments."""

    def __init__(self, lab_id: str, submissions: Path, course: Path, options: GradeOptions):
        self.lab_id = lab_id
        self.submissions = submissions
        self.course = course.expanduser().resolve()
        self.options = options
        self.phases: dict[str, float] = {}
        self._mark = time.monotonic()

    def phase(self, name: str) -> None:
        """Add the time since the last mark to phase `name` (for reports and benchmarks)."""
        now = time.monotonic()
        self.phases[name] = round(self.phases.get(name, 0.0) + now - self._mark, 2)
        self._mark = now

    def run(self, emit: Callable[[str, dict[str, Any]], None]) -> GradingReport:
        """Collect, prepare the course, grade and merge everyone new, then the outputs."""
        from kerascourse.autograder.core.config import CONFIG_ENV, load_config
        from kerascourse.autograder.core.registry import get_lab

        started = time.monotonic()
        _ensure_bin_on_path()
        self.lab = get_lab(self.lab_id)
        self.config_path = self.options.config_path or os.environ.get(CONFIG_ENV) or None
        load_config(self.config_path).for_lab(self.lab.lab_id)  # fail before any work
        self.state = self.course / ".kerascourse"
        work = Path(self.options.work_dir) if self.options.work_dir else self.state / "work"
        self.work_root = _new_work_root(work)
        try:
            self.collection = collect_submissions(
                self.submissions, self.lab.lab_id, self.work_root / "collect"
            )
            self.phase("collect")
            self._prepare()
            self.phase("prepare_course")
            graded_now = self._grade_all(emit)
            self.phase("grade")
        finally:
            if not self.options.keep_work:
                shutil.rmtree(self.work_root, ignore_errors=True)
        wanted = self.collection.by_student()
        report = GradingReport(
            lab_id=self.lab.lab_id,
            course_dir=self.course,
            records=[r for r in self.store.records() if r["student_id"] in wanted],
            graded_now=sorted(graded_now),
            skipped=sorted(self.skipped),
            sandbox=self.info.describe(),
            sandboxed=self.info.sandboxed,
            notes=self.collection.notes,
        )
        write_outputs(report, self.options, self.course, self.lab.lab_id, emit, self.phase)
        report.phases = self.phases
        report.seconds = round(time.monotonic() - started, 1)
        return report

    def _prepare(self) -> None:
        """Course, release, template gradebook, what is left to grade, the sandbox."""
        self.release = prepare_course(self.course, self.lab.lab_id, self.options.labs_dir)
        self.info_course = read_course(self.course)
        self.template = build_template_gradebook(
            self.release,
            self.lab.lab_id,
            self.state / "template" / self.lab.lab_id / "gradebook.db",
            course_id=self.info_course.course_id,
        )
        self.store = ResultsStore(self.course, self.lab.lab_id)
        self.store.clean_partial()
        subs = self.collection.submissions
        self.todo = [s for s in subs if not self.store.is_done(s.student_id, s.sha256)]
        self.skipped = [s.student_id for s in subs if s not in self.todo]
        self.info = sb.detect(self.options.sandbox)
        self.jobs = max(1, self.options.jobs or os.cpu_count() or 1)
        self.cache_salt = cache_salt(self.config_path, self.lab.lab_id)

    def _grade_all(self, emit: Callable[[str, dict[str, Any]], None]) -> list[str]:
        """The process pool; the parent commits each result as it arrives."""
        emit(
            "start",
            {
                "total": len(self.todo),
                "skipped": len(self.skipped),
                "sandbox": self.info.describe(),
            },
        )
        graded_now: list[str] = []
        if not self.todo:
            return graded_now
        pool, client = self._executor()
        try:
            futures = {pool.submit(grade_one, self._job(s)): s for s in self.todo}
            for future in cf.as_completed(futures):
                sub = futures[future]
                record = commit(
                    self.course,
                    self.info_course,
                    self.lab.lab_id,
                    self.release.stem,
                    sub,
                    collect_result(future, sub),
                    self.store,
                )
                graded_now.append(sub.student_id)
                emit("done", record)
        except BaseException:
            # Ctrl-C or a crash of ours: stop now; what was committed stays committed.
            pool.shutdown(wait=False, cancel_futures=True)
            if client is not None:
                client.close()
            raise
        pool.shutdown(wait=True)
        if client is not None:
            client.close()
        return graded_now

    def _executor(self) -> tuple[cf.Executor, Any]:
        """This machine's process pool, or a Dask cluster's workers behind the same API.

        Only ``grade_one(job)`` travels: a job is plain data (paths, limits, the trusted
        command), so a worker needs the kit installed and the same paths mounted; the
        results come back here and are committed one at a time, as with the local pool.
        """
        if self.options.dask_scheduler:
            from distributed import Client

            client = Client(self.options.dask_scheduler, set_as_default=False)
            return client.get_executor(pure=False), client
        pool = cf.ProcessPoolExecutor(
            max_workers=min(self.jobs, len(self.todo)), mp_context=worker_context()
        )
        return pool, None

    def _job(self, sub: Submission) -> Job:
        lab, options = self.lab, self.options
        job_dir = self.work_root / "jobs" / sub.student_id
        job_dir.mkdir(parents=True, exist_ok=True)
        trusted_cmd = [sys.executable, "-m", "kerascourse.autograder.trusted", "--lab", lab.lab_id]
        if self.config_path:
            trusted_cmd += ["--config", str(Path(self.config_path).expanduser().resolve())]
        cache = self.state / "trusted_cache" / lab.lab_id
        policy = sb.SandboxPolicy(timeout=float(options.timeout), memory_bytes=options.memory_bytes)
        secrets = secret_paths(
            self.course, self.info_course, self.submissions, self.config_path, self.work_root
        )
        return Job(
            lab_id=lab.lab_id,
            notebook_id=self.release.stem,
            student_id=sub.student_id,
            sha256=sub.sha256,
            notebook_path=str(sub.path),
            origin=sub.origin,
            timestamp=sub.timestamp,
            flags=list(sub.flags),
            notes=list(sub.notes),
            job_dir=str(job_dir),
            release_path=str(self.release),
            template_db=str(self.template),
            nbgrader_config=private_config(self.info_course, job_dir / "course"),
            secrets=[str(s) for s in secrets],
            policy=dataclasses.asdict(policy),
            info=dataclasses.asdict(self.info),
            trusted_cmd=trusted_cmd,
            score_timeout=float(options.score_timeout),
            cache_dir=str(cache) if options.trusted_cache else None,
            cache_salt=self.cache_salt,
            max_json_bytes=lab.max_json_bytes,
            export_file=lab.export_file,
            exports_code=lab.exports_code,
            autograded_ids=[c.grade_id for c in lab.autograded],
            points={c.grade_id: float(c.points) for c in lab.grade_cells},
            threads=max(1, (os.cpu_count() or 1) // self.jobs) if self.jobs > 1 else None,
        )


def _new_work_root(parent: Path) -> Path:
    """A fresh staging folder; removes those left by runs that were killed.

    Each run writes its pid into its folder; a folder whose pid is no longer alive (a
    SIGKILL, a reboot) is deleted here, so a killed run leaves nothing behind for long.
    """
    parent.mkdir(parents=True, exist_ok=True)
    for old in parent.glob("kc-grade-*"):
        try:
            pid = int((old / "pid").read_text())
        except (OSError, ValueError):
            pid = 0
        if pid <= 0 or not _alive(pid):
            shutil.rmtree(old, ignore_errors=True)
    root = Path(tempfile.mkdtemp(prefix="kc-grade-", dir=parent))
    (root / "pid").write_text(str(os.getpid()))
    root.chmod(0o711)  # sandbox uids traverse to their own folder, list nothing
    return root


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ensure_bin_on_path() -> None:
    """nbgrader's Gradebook runs the ``alembic`` script by name: put our ``bin/`` first."""
    bin_dir = str(Path(sys.executable).parent)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if bin_dir not in parts:
        os.environ["PATH"] = os.pathsep.join([bin_dir, *[p for p in parts if p]])
