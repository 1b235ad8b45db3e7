"""``kerascourse grade``: a whole class, in parallel, sandboxed, scored by the trusted grader.

Why a pipeline around nbgrader rather than ``nbgrader autograde`` alone: nbgrader grades one
submission at a time, runs every kernel with the grader's rights next to the gradebook and
the lab sources, and trusts the kernel's own test outputs. Here each submission goes
through one ordered list of steps (:data:`STEPS`), in a pool of worker processes:

1. ``stage``: a private nbgrader course (``<course>/.kerascourse/work/``) holding only the
   submission's notebook, a throwaway gradebook made from the *release* notebook (no
   hidden tests, no other students) and the course's ``nbgrader_config.py``;
2. ``autograde``: the real ``nbgrader autograde LAB --student ID`` there, inside the
   sandbox (:mod:`kerascourse.autograder.sandbox`);
3. ``copy_out``: only the executed notebook and the lab's export
   (``submission_model.json``; lab04: ``submission_callback.py``), size-limited, regular
   files, no symlinks followed;
4. ``score``: the trusted scorer in a fresh process that never ran student code
   (``python -m kerascourse.autograder.trusted``; an exported callback runs in a worker
   inside the same sandbox, see :mod:`kerascourse.autograder.callback_bridge`); identical
   exports are scored
   once per config (a cache keyed by the model's sha256, the config and the grader code),
   so two students with the same model get the same score;
5. ``finalize``: the notebook for ``autograded/`` with the trusted messages as outputs of
   the test cells (:mod:`kerascourse.autograder.merge`).

The parent process alone writes the main gradebook (:func:`merge.merge_into_gradebook`),
then the student's record in the results store (:mod:`kerascourse.autograder.store`), so a
re-run grades nothing twice and a killed run loses nothing. Afterwards: feedback HTML
(:mod:`kerascourse.autograder.feedback`), ``nbgrader export`` to CSV and the class report
(:mod:`kerascourse.autograder.classreport`).
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import dataclasses
import hashlib
import json
import multiprocessing
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import sandbox as sb
from .collect import Submission, collect_submissions
from .labspec import METRIC_NAMES
from .store import ResultsStore

#: The ordered grading steps of one submission (one source of truth; see module docstring).
STEPS = ("stage", "autograde", "copy_out", "score", "finalize")
#: Largest executed notebook copied out of the sandbox.
MAX_EXECUTED_BYTES = 20 * 1024 * 1024
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
    memory_bytes: int | None = 4 * sb.GIB
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


# ----------------------------------------------------------------------------- course


@dataclass(frozen=True)
class CourseInfo:
    """Facts about the main course read from its ``nbgrader_config.py``."""

    root: Path
    db_url: str
    course_id: str
    source_dir: Path
    config_text: str


def read_course(course_dir: Path) -> CourseInfo:
    """Load the course's nbgrader config (the way nbgrader does) and pick what we need."""
    from traitlets.config.loader import PyFileConfigLoader

    path = course_dir / "nbgrader_config.py"
    saved = dict(os.environ)
    try:
        cfg = PyFileConfigLoader(path.name, path=str(course_dir)).load_config()
    finally:  # the course config may set variables for kernels; keep ours unchanged
        os.environ.clear()
        os.environ.update(saved)
    cd = cfg.get("CourseDirectory", {})
    root = Path(cd.get("root", course_dir))
    source = Path(cd.get("source_directory", "source"))
    return CourseInfo(
        root=root,
        db_url=str(cd.get("db_url", f"sqlite:///{root / 'gradebook.db'}")),
        course_id=str(cd.get("course_id", "default_course")),
        source_dir=source if source.is_absolute() else root / source,
        config_text=path.read_text(encoding="utf-8"),
    )


def prepare_course(course_dir: Path, lab_id: str, labs_dir: str | None = None) -> Path:
    """Set up the course folder and release the lab if that was not done; return the release.

    Runs ``setup_course`` only when there is no ``nbgrader_config.py`` and
    ``generate_assignment`` only when the release notebook or the gradebook's record of
    the lab is missing (an existing release and its gradebook are never regenerated).
    """
    from . import course as course_mod

    course_dir.mkdir(parents=True, exist_ok=True)
    if not (course_dir / course_mod.CONFIG_NAME).exists():
        course_mod.setup_course(course_dir, labs_dir or course_mod.LABS_DIR)
    release = course_mod.release_path(course_dir, lab_id)
    info = read_course(course_dir)
    if not release.is_file() or not _gradebook_has(info.db_url, lab_id):
        release = course_mod.generate_assignment(course_dir, lab_id)
    return release


def _gradebook_has(db_url: str, lab_id: str) -> bool:
    from nbgrader.api import Gradebook, MissingEntry

    if db_url.startswith("sqlite:///") and not Path(db_url[len("sqlite:///") :]).exists():
        return False
    with Gradebook(db_url) as gb:
        try:
            return bool(gb.find_assignment(lab_id).notebooks)
        except MissingEntry:
            return False


def build_template_gradebook(
    release_nb_path: Path,
    lab_id: str,
    dest: Path,
    *,
    course_id: str = "default_course",
    stub_tests: bool = True,
) -> Path:
    """A fresh gradebook describing the lab as the *release* notebook does.

    The private course of each submission starts from a copy of it. Built from the
    release notebook, it holds no hidden tests (nbgrader's own gradebook keeps the source
    versions of locked cells, hidden tests included, to restore them at autograde time),
    no other students and no scores: nothing worth stealing or forging from the kernel.

    With `stub_tests` (the default) the locked test cells are recorded as
    :data:`TEST_STUB`, so nbgrader restores every test cell to a comment and the grading
    kernel runs no test at all: the scores come from the trusted scorer, and in-kernel
    tests would only cost time (lab01's self-checks train the model) and give student
    code something to tamper with. Other locked cells (set-up, data, export) run as
    released.
    """
    import nbformat
    from nbgrader.api import Gradebook
    from nbgrader.utils import compute_checksum

    key = hashlib.sha256(release_nb_path.read_bytes() + f"{lab_id}{course_id}{stub_tests}".encode())
    stamp = dest.with_suffix(".sha256")
    if dest.exists() and stamp.exists() and stamp.read_text() == key.hexdigest():
        return dest  # built from this very release before (creating one costs ~5 s)
    nb = nbformat.read(release_nb_path, as_version=4)
    notebook_id = release_nb_path.stem
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp.db")
    tmp.unlink(missing_ok=True)
    with Gradebook(f"sqlite:///{tmp}", course_id) as gb:
        gb.update_or_create_assignment(lab_id)
        gb.update_or_create_notebook(
            notebook_id, lab_id, kernelspec=json.dumps(nb.metadata.get("kernelspec", {}))
        )
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            gid = meta.get("grade_id")
            if not gid:
                continue
            if meta.get("grade"):
                gb.update_or_create_grade_cell(
                    gid,
                    notebook_id,
                    lab_id,
                    max_score=float(meta["points"]),
                    cell_type=cell.cell_type,
                )
            if meta.get("solution"):
                gb.update_or_create_solution_cell(gid, notebook_id, lab_id)
            if meta.get("task"):
                gb.update_or_create_task_cell(
                    gid,
                    notebook_id,
                    lab_id,
                    max_score=float(meta["points"]),
                    cell_type=cell.cell_type,
                )
            source, checksum = cell.source, meta.get("checksum")
            if stub_tests and _is_test_cell(cell):
                stub = copy.deepcopy(cell)
                stub.source = TEST_STUB
                source, checksum = TEST_STUB, compute_checksum(stub)
            gb.update_or_create_source_cell(
                gid,
                notebook_id,
                lab_id,
                cell_type=cell.cell_type,
                locked=bool(meta.get("locked")),
                source=source,
                checksum=checksum,
            )
    os.replace(tmp, dest)
    stamp.write_text(key.hexdigest())
    return dest


#: What a test cell holds in the grading kernel (see :func:`build_template_gradebook`).
TEST_STUB = (
    "# Test cell: scored by the trusted grader in a separate process (kerascourse grade);\n"
    "# its output in your feedback is the grader's report."
)


def _is_test_cell(cell: Any) -> bool:
    """A locked, autograded code cell (nbgrader: grade, not solution)."""
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def private_config(info: CourseInfo, rw_dir: Path) -> str:
    """The course's nbgrader config, re-pointed at the private course `rw_dir`."""
    db_url = f"sqlite:///{rw_dir / 'gradebook.db'}"
    lines = [
        info.config_text,
        "",
        "# --- kerascourse grade: private per-submission course (overrides the above) ---",
        f"c.CourseDirectory.root = {str(rw_dir)!r}",
        "c.CourseDirectory.source_directory = 'source'",
        "c.CourseDirectory.submitted_directory = 'submitted'",
        "c.CourseDirectory.autograded_directory = 'autograded'",
        f"c.CourseDirectory.db_url = {db_url!r}",
        f"c.CourseDirectory.course_id = {info.course_id!r}",
        "c.Autograde.create_student = True",
    ]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- worker


@dataclass
class Job:
    """Everything a worker needs to grade one submission (plain data: crosses processes)."""

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
    autograded_ids: list[str]
    points: dict[str, float]
    threads: int | None


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
    job_dir = Path(job.job_dir)
    rw = job_dir / "course"
    steps: dict[str, float] = {}
    out["steps"] = steps

    def timed(name: str, fn: Callable[..., Any], *args: Any) -> Any:
        begin = time.monotonic()
        try:
            return fn(*args)
        finally:
            steps[name] = round(time.monotonic() - begin, 2)

    try:
        nb, release = timed("stage", _stage, job, rw, out)
        executed = None
        model_path = None
        if nb is not None:
            run = timed("autograde", _autograde, job, rw, out)
            executed, model_path = timed("copy_out", _copy_out, job, rw, job_dir / "out", out, run)
        trusted = timed("score", _score, job, model_path, out)
        timed("finalize", _finalize, job, nb, release, executed, trusted, out)
    finally:
        if rw.exists():
            _rmtree(rw)
    out["seconds"] = round(time.monotonic() - start, 2)
    return out


def _stage(job: Job, rw: Path, out: dict[str, Any]) -> tuple[Any, Any]:
    """Step ``stage``: the private course with only the notebook in it."""
    import nbformat

    from .merge import dedupe_grade_ids, tamper_flags

    release = nbformat.read(job.release_path, as_version=4)
    raw = Path(job.notebook_path).read_bytes()
    try:
        with warnings.catch_warnings():  # duplicate cell ids: flagged below, fixed on write
            warnings.simplefilter("ignore")
            nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except Exception as exc:  # noqa: BLE001 - any parse error means "not a notebook"
        out.update(status="failed", reason=f"not a readable notebook: {type(exc).__name__}")
        return None, release
    out["flags"] += tamper_flags(nb, release)
    known = {c.metadata["nbgrader"]["grade_id"] for c in release.cells if "nbgrader" in c.metadata}
    staged = dedupe_grade_ids(nb, known)
    if rw.exists():
        _rmtree(rw)
    sub_dir = rw / "submitted" / job.student_id / job.lab_id
    sub_dir.mkdir(parents=True)
    # Re-serialised by nbformat (duplicate cell ids fixed), never the raw bytes.
    (sub_dir / f"{job.notebook_id}.ipynb").write_text(nbformat.writes(staged), encoding="utf-8")
    if job.timestamp:
        (sub_dir / "timestamp.txt").write_text(job.timestamp)
    for name in ("home", "runtime", "tmp", "source"):
        (rw / name).mkdir()
    shutil.copyfile(job.template_db, rw / "gradebook.db")
    (rw / "nbgrader_config.py").write_text(job.nbgrader_config)
    for folder in (rw.parent, rw.parent.parent):
        folder.chmod(0o711)  # the sandbox's uid must reach its course (and nothing else)
    return nb, release


def _sandbox_env(rw: Path, threads: int | None) -> dict[str, str]:
    """A clean environment for nbgrader and the kernel: nothing pointing at secrets."""
    from kerascourse.runner import QUIET_TF_ENV

    bin_dir = str(Path(sys.executable).parent)
    env = {
        "PATH": os.pathsep.join([bin_dir, "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(rw / "home"),
        "TMPDIR": str(rw / "tmp"),
        "LANG": "C.UTF-8",
        "JUPYTER_RUNTIME_DIR": str(rw / "runtime"),
        "JUPYTER_CONFIG_DIR": str(rw / "home" / ".jupyter"),
        "JUPYTER_DATA_DIR": str(rw / "home" / ".local" / "share" / "jupyter"),
        "IPYTHONDIR": str(rw / "home" / ".ipython"),
        "MPLCONFIGDIR": str(rw / "home" / ".matplotlib"),
        "KERAS_HOME": str(rw / "home" / ".keras"),
        "MPLBACKEND": "agg",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        # The kernel's own training never counts (the trusted scorer trains), so keep it
        # short; the lab reads this through kerascourse.settings.
        "KERASCOURSE_FAST": "1",
        "KERASCOURSE_OFFLINE": "1",
        **QUIET_TF_ENV,
    }
    for key in ("KERAS_BACKEND", "CUDA_VISIBLE_DEVICES"):
        if key in os.environ:
            env[key] = os.environ[key]
    if threads:
        for key in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "OPENBLAS_NUM_THREADS"):
            env[key] = str(threads)
    return env


def _autograde(job: Job, rw: Path, out: dict[str, Any]) -> sb.SandboxRun:
    """Step ``autograde``: the real ``nbgrader autograde`` inside the sandbox."""
    argv = [sys.executable, "-m", "nbgrader", "autograde", job.lab_id]
    argv += ["--student", job.student_id, "--force", "--log-level=INFO"]
    policy = sb.SandboxPolicy(**job.policy)
    info = sb.SandboxInfo(**job.info)
    run = sb.run(
        argv,
        rw_dir=rw,
        cwd=rw,
        env=_sandbox_env(rw, job.threads),
        log_path=Path(job.job_dir) / "nbgrader.log",
        policy=policy,
        info=info,
        secrets=[Path(s) for s in job.secrets],
    )
    if run.timed_out:
        out.update(
            status="crashed",
            reason=f"timed out after {policy.timeout:g} s (the whole run was stopped)",
        )
    elif run.returncode != 0:
        log = run.log_tail(6000)
        died = any(s in log for s in ("DeadKernelError", "Kernel died", "kernel died"))
        if died:
            out.update(status="crashed", reason="the kernel died (os._exit, a crash or memory)")
        elif "UnresponsiveKernelError" in log or "unresponsive" in log:
            out.update(status="crashed", reason="the kernel stopped responding")
        else:
            last = [ln for ln in log.splitlines() if ln.strip()][-1:] or ["no output"]
            out.update(status="crashed", reason=f"nbgrader could not run it: {last[0][:300]}")
    return run


def _copy_out(
    job: Job, rw: Path, dest: Path, out: dict[str, Any], run: sb.SandboxRun
) -> tuple[Any, Path | None]:
    """Step ``copy_out``: the executed notebook and the model file, nothing else."""
    import nbformat

    dest.mkdir(parents=True, exist_ok=True)
    folder = ("autograded", job.student_id, job.lab_id)
    executed = None
    data = safe_read(rw, (*folder, f"{job.notebook_id}.ipynb"), MAX_EXECUTED_BYTES)
    if data is not None and out["status"] == "graded":
        try:
            executed = nbformat.reads(data.decode("utf-8"), as_version=4)
        except Exception:  # noqa: BLE001 - whatever is wrong with it, it is unusable
            executed = None
    if executed is None and out["status"] == "graded":
        out.update(status="crashed", reason="nbgrader wrote no executed notebook")
    model_path = None
    if out["status"] == "graded":
        model = safe_read(rw, (*folder, job.export_file), job.max_json_bytes)
        if model is not None:
            model_path = dest / job.export_file
            model_path.write_bytes(model)
    return executed, model_path


def safe_read(base: Path, parts: Sequence[str], limit: int) -> bytes | None:
    """Read ``base/parts...`` without following symlinks; None if absent, odd or too big.

    Every folder is opened relative to the previous one with ``O_NOFOLLOW``, so a kernel
    that replaced a folder by a symlink to ``/etc`` gets nothing read for it. Only a
    regular file with one link and at most `limit` bytes is returned.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    fds = []
    try:
        fd = os.open(base, flags | os.O_DIRECTORY)
        fds.append(fd)
        for part in parts[:-1]:
            fd = os.open(part, flags | os.O_DIRECTORY, dir_fd=fd)
            fds.append(fd)
        fd = os.open(parts[-1], flags | getattr(os, "O_NONBLOCK", 0), dir_fd=fd)
        fds.append(fd)
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1 or st.st_size > limit:
            return None
        with os.fdopen(os.dup(fd), "rb") as fh:
            data = fh.read(limit + 1)
        return data if len(data) <= limit else None
    except OSError:
        return None
    finally:
        for fd in fds:
            os.close(fd)


def _score(job: Job, model_path: Path | None, out: dict[str, Any]) -> dict[str, Any] | None:
    """Step ``score``: the trusted scorer, in a fresh process that never ran student code."""
    if model_path is None:
        if out["status"] == "graded":
            out.update(status="failed", reason=f"no model exported ({job.export_file})")
        out["flags"].append("no model exported")
        return None
    if job.cache_dir is None:
        return _score_now(job, model_path, out)
    digest = hashlib.sha256(model_path.read_bytes() + job.cache_salt.encode()).hexdigest()
    cache = Path(job.cache_dir) / f"{digest}.json"
    cache.parent.mkdir(parents=True, exist_ok=True)
    import fcntl

    with open(cache.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two workers, same model: score it once
        if cache.exists():
            out["trusted_cached"] = True
            return json.loads(cache.read_text())
        data = _score_now(job, model_path, out)
        if data is not None:
            tmp = cache.with_suffix(".tmp")
            tmp.write_text(json.dumps(data))
            os.replace(tmp, cache)
        return data


def _score_now(job: Job, model_path: Path, out: dict[str, Any]) -> dict[str, Any] | None:
    """Run the trusted scorer on one model file; None (with the reason in `out`) on failure."""
    result_path = Path(job.job_dir) / "trusted.json"
    result_path.unlink(missing_ok=True)
    cmd = [*job.trusted_cmd, "--model", str(model_path), "--out", str(result_path)]
    if job.export_file.endswith(".py"):  # code (lab04's callback): run in the same sandbox
        spec = Path(job.job_dir) / "sandbox.json"
        spec.write_text(
            json.dumps({"info": job.info, "policy": job.policy, "secrets": job.secrets})
        )
        cmd += ["--sandbox-spec", str(spec)]
    proc = _run_trusted(cmd, job.score_timeout, job.policy.get("memory_bytes"), job.threads)
    if proc is None or not result_path.exists():
        reason = "timed out" if proc is None else f"exit {proc.returncode}"
        tail = "" if proc is None else (proc.stdout + proc.stderr)[-1500:]
        out.update(status="failed", reason=f"the trusted scorer failed ({reason})")
        out["flags"].append(f"trusted scorer failed ({reason})")
        out["scorer_log"] = tail
        return None
    return json.loads(result_path.read_text())


def _run_trusted(
    cmd: list[str], timeout: float, memory: int | None, threads: int | None
) -> subprocess.CompletedProcess[str] | None:
    import resource

    from kerascourse.runner import QUIET_TF_ENV

    def limits() -> None:
        if memory and not sb.gpu_present():
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    env = {**os.environ, **QUIET_TF_ENV}
    if threads:  # parallel grading: one core each, no oversubscription (ratios stay fair)
        for key in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "OPENBLAS_NUM_THREADS"):
            env[key] = str(threads)
    try:
        return subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
            stdin=subprocess.DEVNULL,
            preexec_fn=limits,
        )
    except subprocess.TimeoutExpired:
        return None


def _finalize(
    job: Job,
    nb: Any,
    release: Any,
    executed: Any,
    trusted: dict[str, Any] | None,
    out: dict[str, Any],
) -> None:
    """Step ``finalize``: scores per cell and the notebook for ``autograded/``."""
    import nbformat

    from .merge import finalize_notebook

    scores = scores_from_trusted(trusted, job.autograded_ids, job.points, out)
    out["scores"] = {gid: dataclasses.asdict(s) for gid, s in scores.items()}
    out["score"] = round(sum(s.score for s in scores.values()), 4)
    out["max_score"] = float(sum(job.points[g] for g in job.autograded_ids))
    out["budget"] = budget_figures(trusted)
    out["flags"] = list(dict.fromkeys(out["flags"]))
    if trusted:
        out["flags"] += [f for f in trusted.get("flags", []) if f not in out["flags"]]
        if "no model exported" in trusted.get("flags", []) and out["status"] == "graded":
            out.update(status="failed", reason=f"no model exported ({job.export_file})")
    banner = ""
    if out["status"] != "graded":
        banner = f"{out['status']}: {out['reason']}. Scores below are the grader's."
    base = executed if executed is not None else (nb if nb is not None else release)
    final = finalize_notebook(base, release, scores, banner=banner)
    path = Path(job.job_dir) / "out" / f"{job.notebook_id}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(final, path)
    out["final_notebook"] = str(path)


def scores_from_trusted(
    trusted: dict[str, Any] | None,
    autograded_ids: Sequence[str],
    points: dict[str, float],
    out: dict[str, Any],
) -> dict[str, Any]:
    """Grade id -> :class:`~kerascourse.autograder.merge.CellScore` for every autograded
    cell, read from the trusted scorer's result file (0 with the reason when absent)."""
    from .merge import CellScore

    cells = (trusted or {}).get("cells") or {}
    scores = {}
    for gid in autograded_ids:
        entry = cells.get(gid) if isinstance(cells, dict) else None
        if not isinstance(entry, dict):
            why = out.get("reason") or "the grader produced no score for this cell"
            advice = NO_MODEL_ADVICE if "no model" in why else ""
            scores[gid] = CellScore(0.0, points[gid], [f"No score: {why}. {advice}".strip()])
            continue
        score = min(max(float(entry.get("score", 0.0)), 0.0), points[gid])
        messages = [str(m) for m in entry.get("messages", [])]
        scores[gid] = CellScore(score, points[gid], messages)
    return scores


#: What a student reads when no model reached the grader.
NO_MODEL_ADVICE = (
    "Run the whole notebook (Kernel > Restart & Run All) so that its last cell writes "
    "its export file (submission_model.json, or submission_callback.py in lab 04), and "
    "keep that cell as it is."
)


def budget_figures(trusted: dict[str, Any] | None) -> dict[str, Any]:
    """Parameters, FLOPs, time ratio and the quality metric from a trusted result."""
    figures = (trusted or {}).get("measurements") or {}
    keys = ("params", "flops", "time_ratio", *METRIC_NAMES)
    return {k: figures[k] for k in keys if figures.get(k) is not None}


def _rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


# ----------------------------------------------------------------------------- driver


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
            (see :mod:`kerascourse.autograder.collect`).
        course_dir: the instructor's nbgrader course (set up and the lab released here
            when needed).
        options: see :class:`GradeOptions`. Defaults to `None` (the defaults).
        on_event: called as ``on_event(kind, data)`` with ``"start"`` (total, skipped) and
            ``"done"`` (the record) events; the CLI draws its progress bar from them.

    Raises:
        kerascourse.autograder.labspec.UnknownLabError: unknown lab id (lists valid ones).
        kerascourse.autograder.config.GraderConfigError: bad private config.
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
        from .config import CONFIG_ENV, load_config
        from .labspec import get_lab

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
        _after(report, self.options, self.course, self.lab.lab_id, emit, self.phase)
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
                record = _commit(
                    self.course,
                    self.info_course,
                    self.lab.lab_id,
                    self.release.stem,
                    sub,
                    _collect_result(future, sub),
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
            max_workers=min(self.jobs, len(self.todo)), mp_context=_worker_context()
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
        secrets = _secrets(
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
            cache_salt=_cache_salt(self.config_path, lab.lab_id),
            max_json_bytes=lab.max_json_bytes,
            export_file=lab.export_file,
            autograded_ids=[c.grade_id for c in lab.autograded],
            points={c.grade_id: float(c.points) for c in lab.grade_cells},
            threads=max(1, (os.cpu_count() or 1) // self.jobs) if self.jobs > 1 else None,
        )


#: Imported once by the fork server, so that each grading worker starts warm.
WORKER_PRELOAD = ["kerascourse.autograder.pipeline", "nbformat", "nbgrader.preprocessors"]


def _worker_context() -> Any:
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


def _collect_result(future: cf.Future, sub: Submission) -> dict[str, Any]:
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - our bug must not stop the class
        return {
            "student_id": sub.student_id,
            "sha256": sub.sha256,
            "origin": sub.origin,
            "status": "failed",
            "reason": f"grader error (our bug, not the student's): {type(exc).__name__}: {exc}",
            "flags": ["grader error"],
            "grader_error": True,
        }


def _commit(
    course: Path,
    info: CourseInfo,
    lab_id: str,
    notebook_id: str,
    sub: Submission,
    record: dict[str, Any],
    store: ResultsStore,
) -> dict[str, Any]:
    """Single writer: gradebook, ``autograded/`` notebook, then the results record."""
    import nbformat

    from .merge import CellScore, merge_into_gradebook, write_atomic

    if record.get("grader_error"):
        record["merged"] = False  # graded again on the next run
        store.put(record)
        return record
    final_path = Path(record.pop("final_notebook"))
    final = nbformat.read(final_path, as_version=4)
    scores = {g: CellScore(**s) for g, s in record["scores"].items()}
    merge_into_gradebook(
        info.db_url,
        lab_id=lab_id,
        notebook_id=notebook_id,
        student_id=sub.student_id,
        final_nb=final,
        scores=scores,
        timestamp=sub.timestamp,
    )
    dest = course / "autograded" / sub.student_id / lab_id / f"{notebook_id}.ipynb"
    write_atomic(dest, nbformat.writes(final).encode("utf-8"))
    submitted = course / "submitted" / sub.student_id / lab_id / f"{notebook_id}.ipynb"
    if submitted.resolve() != sub.path.resolve():
        write_atomic(submitted, sub.path.read_bytes())
        if sub.timestamp:
            write_atomic(submitted.parent / "timestamp.txt", sub.timestamp.encode())
    record["autograded_notebook"] = str(dest.relative_to(course))
    record["merged"] = True
    record["graded_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    store.put(record)
    return record


def _secrets(
    course: Path,
    info: CourseInfo,
    submissions: Path,
    config_path: str | None,
    work_root: Path,
) -> list[Path]:
    """What the sandbox must not see: course, sources, checkout, config, other students."""
    from . import course as course_mod

    found = [course, info.root, info.source_dir, course_mod.LABS_DIR, work_root]
    found.append(submissions.expanduser().resolve())
    for labs in (info.source_dir, course_mod.LABS_DIR):
        checkout = Path(labs).resolve().parent
        if (checkout / ".git").exists() or (checkout / "pyproject.toml").exists():
            found.append(checkout)  # the repository: labs/ and .git history
    if config_path:
        found.append(Path(config_path).expanduser().resolve())
    if info.db_url.startswith("sqlite:///"):
        found.append(Path(info.db_url[len("sqlite:///") :]))
    unique: list[Path] = []
    for path in found:
        path = Path(path).resolve()
        if path.exists() and path not in unique and path != Path("/"):
            unique.append(path)
    return unique


def _cache_salt(config_path: str | None, lab_id: str) -> str:
    """What a trusted result depends on besides the model: config bytes and grader code."""
    digest = hashlib.sha256(lab_id.encode())
    if config_path:
        digest.update(Path(config_path).expanduser().read_bytes())
    here = Path(__file__).resolve().parent
    for path in sorted(here.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def _after(
    report: GradingReport,
    options: GradeOptions,
    course: Path,
    lab_id: str,
    emit: Callable[[str, dict[str, Any]], None],
    phase: Callable[[str], None],
) -> None:
    """Feedback for the students graded now, then the CSV and the class report."""
    if options.feedback:
        from .feedback import feedback_path, generate_feedback

        # Everyone graded now, and anyone whose feedback is missing or older than their
        # autograded notebook (a run killed after the merge, before the feedback).
        stale = []
        for rec in report.records:
            if not rec.get("merged"):
                continue
            page = feedback_path(course, lab_id, rec["student_id"])
            nb = course / rec.get("autograded_notebook", "")
            fresh = page.exists() and nb.is_file() and page.stat().st_mtime >= nb.stat().st_mtime
            if rec["student_id"] in report.graded_now or not fresh:
                stale.append(rec["student_id"])
            else:
                report.feedback[rec["student_id"]] = page
        if stale:
            emit("phase", {"name": "feedback"})
            report.feedback.update(generate_feedback(course, lab_id, stale))
        phase("feedback")
    if options.export:
        from .classreport import write_class_report
        from .feedback import export_grades

        emit("phase", {"name": "export"})
        report.csv_path = export_grades(course)
        report.report_path = write_class_report(course, lab_id, report)
        phase("export")
