"""Run one submission's grading process where student code cannot reach what matters.

Why a package: the student's kernel runs arbitrary code as the user who grades. On Linux
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

The package in three modules: :mod:`.policy` (limits, :func:`detect`), :mod:`.argv` (the
bubblewrap command line, pure) and :mod:`.process` (:func:`run`, :func:`start`, killing).
Callers import the package (``from kerascourse.autograder import sandbox as sb``).
"""

from kerascourse.autograder.sandbox.argv import bwrap_argv, exposed_paths, kit_package_dirs
from kerascourse.autograder.sandbox.policy import (
    DEFAULT_HIDDEN,
    GIB,
    KIT_PACKAGES,
    MODES,
    UID_BASE,
    SandboxInfo,
    SandboxPolicy,
    detect,
    gpu_present,
    isolation_flags,
    sandbox_uid,
)
from kerascourse.autograder.sandbox.process import (
    SandboxProcess,
    SandboxRun,
    kill_uid,
    run,
    start,
)

__all__ = [
    "DEFAULT_HIDDEN",
    "GIB",
    "KIT_PACKAGES",
    "MODES",
    "UID_BASE",
    "SandboxInfo",
    "SandboxPolicy",
    "SandboxProcess",
    "SandboxRun",
    "bwrap_argv",
    "detect",
    "exposed_paths",
    "gpu_present",
    "isolation_flags",
    "kill_uid",
    "kit_package_dirs",
    "run",
    "sandbox_uid",
    "start",
]
