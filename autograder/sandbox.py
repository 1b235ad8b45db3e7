"""Run one submission's grading process where student code cannot reach what matters.

Why a module: the student's kernel runs arbitrary code as the user who grades. On Linux
as root we run nbgrader (and so the kernel it starts) inside bubblewrap:

- network off (``--unshare-net``; loopback still works, so nbgrader talks to the kernel);
- a read-only view of the system, with user data roots (``/tmp``, ``/root``, ``/home``...)
  and every secret (main course folder, gradebook, lab sources with hidden tests, the
  private grader config, the repository checkout and its ``.git``) replaced by empty
  folders; only the interpreter, site-packages and the kit's package folders are put back,
  read-only; the one writable folder is this submission's private course;
- its own PID namespace and session (``--unshare-pid --new-session --die-with-parent``):
  killing the sandbox kills every process the student started, and the kernel cannot
  inject keystrokes into the instructor's terminal;
- an unprivileged user id of its own (``setpriv``, no new privileges), so that
  ``RLIMIT_NPROC`` holds a fork bomb (root is exempt from it), with ``RLIMIT_AS`` (4 GiB on
  CPU: TensorFlow-CPU trains, a memory bomb gets MemoryError), ``RLIMIT_FSIZE``, no core
  dumps, a size-capped ``/tmp``, and a wall-clock timeout that kills the whole sandbox.

Where this cannot apply:
- GPU: CUDA maps far more virtual memory than it uses, so no ``RLIMIT_AS`` is set when a
  GPU is present (``/dev/nvidia*`` is passed through); limit memory with the GPU
  machine's cgroup/container instead.
- Not root: bubblewrap runs unprivileged (user namespaces) with the grader's own uid,
  and ``RLIMIT_NPROC`` counts all of that user's processes, so it is set above the
  current count.
- No bubblewrap (or it cannot start, e.g. user namespaces disabled): the process runs
  unsandboxed with resource limits only (and its own uid when root); every result is
  flagged ``sandbox_unavailable`` and the summary says so.
"""

from __future__ import annotations

import os
import shutil
import signal
import site
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GIB = 1024**3
#: Sandbox modes: ``auto`` (bubblewrap when it works), ``bwrap`` (required), ``off``.
MODES = ("auto", "bwrap", "off")
#: Data roots hidden from the sandbox (replaced by empty folders).
DEFAULT_HIDDEN = ("/tmp", "/var/tmp", "/root", "/home", "/mnt", "/media", "/srv", "/run/user")
#: Packages the grading kernel imports from this kit.
KIT_PACKAGES = (
    "kerascourse",
    "kerascourse.autograder",
    "kerascourse.datasets",
    "kerascourse.widgets",
)
#: First uid handed to sandboxes (uid = base + pid of the grading worker: unique while alive).
UID_BASE = 1_000_000


@dataclass(frozen=True)
class SandboxPolicy:
    """Limits for one sandboxed run.

    Attributes:
        timeout: wall-clock seconds for the whole run. Defaults to `900`.
        memory_bytes: ``RLIMIT_AS`` per process; None for no limit (GPU). Defaults to 4 GiB.
        max_processes: ``RLIMIT_NPROC`` (processes *and threads*; TensorFlow starts dozens).
            Defaults to `512`.
        max_file_bytes: ``RLIMIT_FSIZE``, the largest file a process may write.
            Defaults to 1 GiB.
        tmp_bytes: size of the sandbox's private ``/tmp``. Defaults to 512 MiB.
    """

    timeout: float = 900.0
    memory_bytes: int | None = 4 * GIB
    max_processes: int = 512
    max_file_bytes: int = GIB
    tmp_bytes: int = 512 * 1024**2


@dataclass(frozen=True)
class SandboxInfo:
    """What isolation this machine gives.

    Attributes:
        kind: ``"bubblewrap"`` or ``"none"``.
        own_uid: whether each sandbox runs as its own unprivileged uid (root only).
        gpu: whether a GPU device was found (then no ``RLIMIT_AS``).
        reason: why there is no bubblewrap (empty when there is).
    """

    kind: str
    own_uid: bool
    gpu: bool
    reason: str = ""

    @property
    def sandboxed(self) -> bool:
        """True when the network and file system are isolated (bubblewrap)."""
        return self.kind == "bubblewrap"

    def describe(self) -> str:
        """One line for the grading summary."""
        if self.sandboxed:
            who = "own uid" if self.own_uid else "grader's uid"
            mem = "no RLIMIT_AS (GPU)" if self.gpu else "RLIMIT_AS"
            return f"bubblewrap: network off, secrets hidden, {who}, {mem}, RLIMIT_NPROC"
        return f"NO SANDBOX ({self.reason}): resource limits and timeout only"


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


def gpu_present() -> bool:
    """Whether an NVIDIA device node exists (then RLIMIT_AS is not applied)."""
    return Path("/dev/nvidiactl").exists() or any(Path("/dev").glob("nvidia[0-9]*"))


def detect(mode: str = "auto") -> SandboxInfo:
    """Find out what isolation this machine allows.

    Args:
        mode: ``"auto"`` (bubblewrap when it works, else none), ``"bwrap"`` (raise when it
            does not work) or ``"off"``. Defaults to `"auto"`.

    Raises:
        ValueError: unknown `mode`.
        RuntimeError: `mode` is ``"bwrap"`` and bubblewrap cannot run here.
    """
    if mode not in MODES:
        msg = f"Unknown sandbox mode {mode!r}. Valid modes: {list(MODES)}."
        raise ValueError(msg)
    root = os.geteuid() == 0
    own_uid = root and shutil.which("setpriv") is not None
    # Without bubblewrap the uid drop needs an interpreter other users can reach.
    own_uid_bare = own_uid and _world_reachable(Path(sys.executable).resolve())
    gpu = gpu_present()
    if mode == "off":
        return SandboxInfo("none", own_uid_bare, gpu, "turned off (--sandbox off)")
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        reason = "bubblewrap is not installed (apt install bubblewrap)"
    else:
        probe = [bwrap, *_isolation_flags(root), "--ro-bind", "/", "/", "--", "true"]
        try:
            done = subprocess.run(probe, capture_output=True, timeout=30, check=False)
            ok = done.returncode == 0
            err = done.stderr.decode(errors="replace").strip()[:200]
        except (OSError, subprocess.TimeoutExpired) as exc:
            ok, err = False, str(exc)
        if ok:
            return SandboxInfo("bubblewrap", own_uid, gpu)
        reason = f"bubblewrap cannot start here: {err or 'unknown error'}"
    if mode == "bwrap":
        msg = f"A sandbox was required (--sandbox bwrap) but {reason}."
        raise RuntimeError(msg)
    return SandboxInfo("none", own_uid_bare, gpu, reason)


def _world_reachable(path: Path) -> bool:
    """Whether every folder above `path` lets other users through (o+x)."""
    return all(os.stat(parent).st_mode & 0o001 for parent in path.parents)


def sandbox_uid() -> int:
    """The unprivileged uid of this grading worker's sandboxes (unique while it lives)."""
    return UID_BASE + os.getpid()


def _isolation_flags(root: bool) -> list[str]:
    flags = ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    if not root:
        flags.insert(0, "--unshare-user")
    return [*flags, "--die-with-parent", "--new-session"]


def exposed_paths(secrets: Sequence[Path], extra: Sequence[Path] = ()) -> list[Path]:
    """Folders put back read-only: interpreter prefixes, site-packages, the kit, `extra`.

    Other ``sys.path`` entries (the working directory, ``PYTHONPATH``) are not exposed:
    under ``python -m`` the first one is the current folder, often the course checkout.

    Never exposed: ``/``, a folder holding a hidden data root (``/tmp``...), a secret
    folder or a folder holding one (its children are exposed where needed). A secret
    *file* inside an exposed folder is hidden again after it (see :func:`bwrap_argv`).
    Nested entries are dropped (their parent is already exposed).
    """
    candidates = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix)]
    candidates += [Path(p) for p in site.getsitepackages()]
    if site.ENABLE_USER_SITE and site.getusersitepackages():
        candidates.append(Path(site.getusersitepackages()))
    candidates += [Path(p) for p in extra]
    candidates += kit_package_dirs()
    blocked = [Path(s).resolve() for s in secrets if Path(s).is_dir()]
    blocked += [Path(h) for h in DEFAULT_HIDDEN]
    found: list[Path] = []
    for cand in candidates:
        if not cand.exists():
            continue
        for path in (cand.absolute(), cand.resolve()):
            if path == Path("/") or any(b == path or b.is_relative_to(path) for b in blocked):
                continue
            if path not in found:
                found.append(path)
    found.sort(key=lambda p: len(p.parts))
    out: list[Path] = []
    for path in found:
        if not any(path.is_relative_to(parent) for parent in out):
            out.append(path)
    return out


def kit_package_dirs() -> list[Path]:
    """Folders of the kit's packages (an editable install maps them outside site-packages)."""
    import importlib.util

    dirs = []
    for name in KIT_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            dirs += [Path(p) for p in spec.submodule_search_locations]
    return dirs


def bwrap_argv(
    argv: Sequence[str],
    *,
    rw_dir: Path,
    cwd: Path,
    secrets: Sequence[Path],
    policy: SandboxPolicy,
    info: SandboxInfo,
    uid: int | None,
    expose: Sequence[Path] = (),
) -> list[str]:
    """The full command line: bubblewrap (when available), uid drop, then `argv`.

    Args:
        argv: the command to run inside.
        rw_dir: the only writable folder (this submission's private course).
        cwd: working directory inside.
        secrets: files and folders that must not be visible (hidden even when they lie
            inside an exposed folder).
        policy: limits (for the ``/tmp`` size).
        info: what :func:`detect` found.
        uid: the unprivileged uid to run as (root only), or None.
        expose: extra folders to put back read-only.
    """
    inner = list(argv)
    if uid is not None:
        inner = [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--no-new-privs",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
            *inner,
        ]
    if not info.sandboxed:
        return inner
    rw_dir = Path(rw_dir).resolve()
    cmd = [shutil.which("bwrap") or "bwrap", *_isolation_flags(os.geteuid() == 0)]
    cmd += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    # POSIX semaphores (multiprocessing, joblib) need a /dev/shm the sandbox uid can write.
    cmd += ["--perms", "1777", "--size", str(policy.tmp_bytes), "--tmpfs", "/dev/shm"]
    for hidden in DEFAULT_HIDDEN:
        if Path(hidden).is_dir():
            cmd += ["--perms", "1777", "--size", str(policy.tmp_bytes), "--tmpfs", hidden]
    tmpfs = [Path(h) for h in DEFAULT_HIDDEN if Path(h).is_dir()]
    secret_paths = [Path(s).resolve() for s in secrets]
    for secret in secret_paths:
        cmd += _hide(secret)
        if secret.is_dir():
            tmpfs.append(secret)
    exposed = exposed_paths(secret_paths, expose)
    made: set[Path] = set()
    for path in exposed:
        cmd += _mount_points(path, tmpfs, made)
        cmd += ["--ro-bind", str(path), str(path)]
    # A secret file inside an exposed folder stays hidden (later mounts win).
    for secret in secret_paths:
        if any(secret.is_relative_to(path) for path in exposed):
            cmd += _hide(secret)
    if info.gpu:
        for dev in [*sorted(Path("/dev").glob("nvidia*")), Path("/dev/dri")]:
            if dev.exists():
                cmd += ["--dev-bind", str(dev), str(dev)]
    cmd += _mount_points(rw_dir, tmpfs, made)
    cmd += ["--bind", str(rw_dir), str(rw_dir), "--chdir", str(Path(cwd).resolve())]
    return [*cmd, "--", *inner]


def _mount_points(path: Path, tmpfs: Sequence[Path], made: set[Path]) -> list[str]:
    """``--dir`` for each folder between a tmpfs and `path`, readable by the sandbox uid.

    bubblewrap would create them itself, but mode 0700 (owned by root), which would hide
    the exposed folder from the unprivileged sandbox user.
    """
    args: list[str] = []
    for parent in reversed(path.parents):
        if parent in made or not any(parent.is_relative_to(t) and parent != t for t in tmpfs):
            continue
        args += ["--perms", "0755", "--dir", str(parent)]
        made.add(parent)
    return args


def _hide(path: Path) -> list[str]:
    if path.is_dir():
        return ["--tmpfs", str(path)]
    if path.exists():
        return ["--ro-bind", "/dev/null", str(path)]
    return []


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
    :mod:`kerascourse.autograder.callback_bridge`); the caller enforces deadlines and
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
