"""Starting, waiting for and killing a sandboxed process: :func:`run` (wait, with a
timeout) and :func:`start` (pipes, for a process the grader talks to).

Why a module of its own: this is the part with side effects (rlimits in a preexec
function, a uid handed the writable folder, whole process groups and uids killed); the
command line it starts comes from :mod:`kerascourse.autograder.sandbox.argv`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kerascourse.autograder.sandbox.argv import bwrap_argv
from kerascourse.autograder.sandbox.policy import SandboxInfo, SandboxPolicy, sandbox_uid


@dataclass
class SandboxRun:
    """The outcome of :func:`run`: exit code, whether the timeout killed it, wall time."""

    returncode: int
    timed_out: bool
    seconds: float
    log_path: Path

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the captured stdout/stderr."""
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return data[-chars:].decode("utf-8", "replace")


def _limits(policy: SandboxPolicy, info: SandboxInfo, uid: int | None) -> Callable[[], None]:
    """A preexec function setting rlimits; inherited by bubblewrap and everything inside."""
    import resource

    nproc = policy.max_processes
    if uid is None and os.geteuid() != 0:
        nproc += _user_task_count()  # the limit counts all of this user's tasks
    memory = None if info.gpu else policy.memory_bytes

    def apply() -> None:
        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        resource.setrlimit(resource.RLIMIT_FSIZE, (policy.max_file_bytes, policy.max_file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def _user_task_count() -> int:
    """Threads and processes of the current user (what RLIMIT_NPROC counts)."""
    uid = os.getuid()
    count = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if proc.stat().st_uid == uid:
                count += sum(1 for _ in (proc / "task").iterdir())
        except OSError:
            continue
    return count


@dataclass
class SandboxProcess:
    """A sandboxed process started by :func:`start` (pipes to talk to it)."""

    proc: subprocess.Popen
    uid: int | None

    def stop(self) -> None:
        """Kill it and everything it started (its process group, its uid when root)."""
        if self.proc.poll() is None:
            _kill_group(self.proc.pid)
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        if self.uid is not None:
            kill_uid(self.uid)


def _command(
    argv: Sequence[str],
    rw_dir: Path,
    cwd: Path,
    policy: SandboxPolicy,
    info: SandboxInfo,
    secrets: Sequence[Path],
    expose: Sequence[Path],
) -> tuple[list[str], int | None]:
    """The full command line and the uid it runs as (`rw_dir` handed to that uid)."""
    uid = sandbox_uid() if info.own_uid else None
    if uid is not None:
        _chown_tree(Path(rw_dir), uid)
        Path(rw_dir).chmod(0o700)  # without bubblewrap, other sandboxes must not read it
    cmd = bwrap_argv(
        argv,
        rw_dir=Path(rw_dir),
        cwd=Path(cwd),
        secrets=secrets,
        policy=policy,
        info=info,
        uid=uid,
        expose=expose,
    )
    return cmd, uid


def start(
    argv: Sequence[str],
    *,
    rw_dir: Path,
    cwd: Path,
    env: dict[str, str],
    log_path: Path,
    policy: SandboxPolicy,
    info: SandboxInfo,
    secrets: Sequence[Path] = (),
    expose: Sequence[Path] = (),
) -> SandboxProcess:
    """Start `argv` in the sandbox with pipes on its stdin and stdout (stderr to `log_path`).

    For a process the grader talks to while it runs (a learner's callback, see
    :mod:`kerascourse.autograder.labs.lab04_callbacks.bridge`); the caller enforces deadlines and
    calls :meth:`SandboxProcess.stop`. `log_path` must lie outside `rw_dir`.
    """
    cmd, uid = _command(argv, rw_dir, cwd, policy, info, secrets, expose)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        proc = _popen(cmd, cwd, env, policy, info, uid, subprocess.PIPE, subprocess.PIPE, log)
    return SandboxProcess(proc, uid)


def _popen(
    cmd: list[str],
    cwd: Path,
    env: dict[str, str],
    policy: SandboxPolicy,
    info: SandboxInfo,
    uid: int | None,
    stdin: Any,
    stdout: Any,
    stderr: Any,
) -> subprocess.Popen:
    """The sandboxed process: its own session (killed as a group), the rlimits applied."""
    return subprocess.Popen(
        cmd,
        cwd=str(cwd),
        env=env,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
        preexec_fn=_limits(policy, info, uid),  # noqa: PLW1509 - single-threaded caller
    )


def run(
    argv: Sequence[str],
    *,
    rw_dir: Path,
    cwd: Path,
    env: dict[str, str],
    log_path: Path,
    policy: SandboxPolicy,
    info: SandboxInfo,
    secrets: Sequence[Path] = (),
    expose: Sequence[Path] = (),
) -> SandboxRun:
    """Run `argv` in the sandbox, wait at most ``policy.timeout`` seconds, kill it all after.

    When running as root the sandbox gets its own uid; `rw_dir` is handed to that uid
    first. stdout and stderr go to `log_path` (which must lie outside `rw_dir`).
    """
    cmd, uid = _command(argv, rw_dir, cwd, policy, info, secrets, expose)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start_time = time.monotonic()
    timed_out = False
    with open(log_path, "wb") as log:
        proc = _popen(cmd, cwd, env, policy, info, uid, subprocess.DEVNULL, log, subprocess.STDOUT)
        try:
            returncode = proc.wait(timeout=policy.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc.pid)
            returncode = proc.wait()
    if uid is not None:
        kill_uid(uid)
    return SandboxRun(returncode, timed_out, time.monotonic() - start_time, log_path)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def kill_uid(uid: int) -> None:
    """Kill every process left running as `uid` (a sandbox's leftovers; root only)."""
    kill = shutil.which("kill") or "/bin/kill"
    subprocess.run(
        ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", kill, "-KILL", "-1"],
        check=False,
        capture_output=True,
        timeout=30,
    )


def _chown_tree(folder: Path, uid: int) -> None:
    for dirpath, dirnames, filenames in os.walk(folder):
        os.lchown(dirpath, uid, uid)
        for name in dirnames + filenames:
            os.lchown(os.path.join(dirpath, name), uid, uid)
