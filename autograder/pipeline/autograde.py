"""Steps ``autograde`` and ``copy_out``: the real ``nbgrader autograde`` inside the
sandbox, then only the executed notebook and the lab's export file brought out.

Why: the kernel runs the student's code, so it runs in the sandbox
(:mod:`kerascourse.autograder.sandbox`) with a clean environment (:func:`sandbox_env`),
and nothing it wrote is trusted: :func:`safe_read` takes a regular file of bounded size
without following a symlink the kernel may have planted.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Sequence
from pathlib import Path

from kerascourse.autograder import sandbox as sb
from kerascourse.autograder.pipeline.job import Job, Work

#: Largest executed notebook copied out of the sandbox.
MAX_EXECUTED_BYTES = 20 * 1024 * 1024


def sandbox_env(rw: Path, threads: int | None) -> dict[str, str]:
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


def autograde(job: Job, work: Work) -> None:
    """Step ``autograde``: the real ``nbgrader autograde`` inside the sandbox."""
    out, rw = work.out, work.rw
    argv = [sys.executable, "-m", "nbgrader", "autograde", job.lab_id]
    argv += ["--student", job.student_id, "--force", "--log-level=INFO"]
    policy = sb.SandboxPolicy(**job.policy)
    info = sb.SandboxInfo(**job.info)
    run = sb.run(
        argv,
        rw_dir=rw,
        cwd=rw,
        env=sandbox_env(rw, job.threads),
        log_path=Path(job.job_dir) / "nbgrader.log",
        policy=policy,
        info=info,
        secrets=[Path(s) for s in job.secrets],
    )
    work.run = run
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


def copy_out(job: Job, work: Work) -> None:
    """Step ``copy_out``: the executed notebook and the model file, nothing else."""
    import nbformat

    out, rw = work.out, work.rw
    dest = Path(job.job_dir) / "out"
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
    work.executed, work.model_path = executed, model_path


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
