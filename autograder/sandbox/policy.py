"""What the sandbox allows: its limits (:class:`SandboxPolicy`), what this machine gives
(:class:`SandboxInfo`, :func:`detect`) and the namespace flags bubblewrap starts with.

Why a module of its own: these are the facts a grading run decides once (in the parent)
and hands to every worker as plain data; the command line (:mod:`.argv`) and the process
control (:mod:`.process`) only read them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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
        probe = [bwrap, *isolation_flags(root), "--ro-bind", "/", "/", "--", "true"]
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


def isolation_flags(root: bool) -> list[str]:
    """bubblewrap's namespace flags: no network, own PID/IPC/UTS namespaces and session.

    Shared by :func:`detect`'s probe and the real command line, so that what was probed
    is what runs. Not root: a user namespace too (unprivileged bubblewrap needs one).
    """
    flags = ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    if not root:
        flags.insert(0, "--unshare-user")
    return [*flags, "--die-with-parent", "--new-session"]
