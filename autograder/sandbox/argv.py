"""The sandbox's command line: which folders are put back read-only, which are hidden,
and the bubblewrap + ``setpriv`` argv that wraps the graded command.

Why a module of its own: the command line is pure (paths and flags in, a list of
strings out), so it can be read and tested without starting anything; starting and
stopping the process is :mod:`kerascourse.autograder.sandbox.process`.
"""

from __future__ import annotations

import os
import shutil
import site
import sys
from collections.abc import Sequence
from pathlib import Path

from kerascourse.autograder.sandbox.policy import (
    DEFAULT_HIDDEN,
    KIT_PACKAGES,
    SandboxInfo,
    SandboxPolicy,
    isolation_flags,
)


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
        info: what :func:`~kerascourse.autograder.sandbox.policy.detect` found.
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
    cmd = [shutil.which("bwrap") or "bwrap", *isolation_flags(os.geteuid() == 0)]
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
