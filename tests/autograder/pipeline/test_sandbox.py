"""The grading sandbox: network off, secrets hidden, limits and timeouts that hold."""

from __future__ import annotations

import re
import sys
import textwrap
import time
from pathlib import Path

import pytest
from kerascourse.autograder import sandbox

INFO = sandbox.detect()
needs_bwrap = pytest.mark.skipif(
    not INFO.sandboxed, reason=f"no bubblewrap sandbox here: {INFO.reason}"
)


def _run(tmp_path: Path, code: str, *, secrets=(), timeout=60.0, memory=4 * sandbox.GIB):
    job = tmp_path / "job"
    rw = job / "course"
    rw.mkdir(parents=True, exist_ok=True)
    for folder in (tmp_path, job):
        folder.chmod(0o711)  # the sandbox uid must reach its folder
    policy = sandbox.SandboxPolicy(timeout=timeout, memory_bytes=memory, max_processes=64)
    result = sandbox.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        rw_dir=rw,
        cwd=rw,
        env={"PATH": "/usr/bin:/bin", "HOME": str(rw), "PYTHONDONTWRITEBYTECODE": "1"},
        log_path=job / "log.txt",
        policy=policy,
        info=INFO,
        secrets=secrets,
    )
    return result, result.log_tail(5000)


def test_unknown_mode_lists_valid_ones():
    """Does a typo in the sandbox mode list the valid modes?"""
    with pytest.raises(ValueError, match=re.escape("Valid modes: ['auto', 'bwrap', 'off']")):
        sandbox.detect("bwarp")


def test_off_mode_says_so():
    """Does --sandbox off report itself as unsandboxed, with the reason?"""
    info = sandbox.detect("off")
    assert not info.sandboxed
    assert "NO SANDBOX" in info.describe()


def test_exposed_paths_never_reveal_a_secret_folder(tmp_path):
    """Is a folder holding a secret (or '/' or /tmp's parent) never exposed?"""
    secret = tmp_path / "course"
    secret.mkdir()
    exposed = sandbox.exposed_paths([secret], extra=[tmp_path, Path("/"), secret / "x"])
    assert Path("/") not in exposed
    assert all(not secret.is_relative_to(p) for p in exposed)
    assert Path(sys.prefix).resolve() in [p.resolve() for p in exposed] or any(
        Path(sys.prefix).resolve().is_relative_to(p) for p in exposed
    )


def test_secret_file_inside_an_exposed_folder_is_hidden_again(tmp_path):
    """Is a private config inside the package folder masked after the folder is exposed?"""
    import kerascourse.autograder

    pkg = Path(kerascourse.autograder.__file__).resolve().parent  # the folder that is exposed
    secret = pkg / "test-private.toml"
    secret.write_text("seed = 1")
    try:
        info = sandbox.SandboxInfo("bubblewrap", own_uid=False, gpu=False)
        argv = sandbox.bwrap_argv(
            ["true"],
            rw_dir=tmp_path,
            cwd=tmp_path,
            secrets=[secret],
            policy=sandbox.SandboxPolicy(),
            info=info,
            uid=None,
        )
    finally:
        secret.unlink()
    expose_at = argv.index(str(pkg))
    mask = [i for i, a in enumerate(argv) if a == str(secret)]
    assert mask
    assert mask[-1] > expose_at
    assert argv[mask[-1] - 1] == "/dev/null"
    assert "--unshare-net" in argv


@needs_bwrap
def test_network_off_loopback_on(tmp_path):
    """Is the internet unreachable while loopback (kernel <-> nbgrader) still works?"""
    result, log = _run(
        tmp_path,
        """
        import socket
        try:
            socket.create_connection(("1.1.1.1", 80), timeout=3)
            print("NET OPEN")
        except OSError as exc:
            print("NET BLOCKED", exc)
        s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
        c = socket.create_connection(s.getsockname()); print("LOOPBACK OK")
        """,
    )
    assert result.returncode == 0, log
    assert "NET BLOCKED" in log
    assert "LOOPBACK OK" in log


@needs_bwrap
def test_secrets_hidden_rw_folder_writable(tmp_path):
    """Are the course, a secret file and the home folders invisible, the rw folder writable?"""
    course = tmp_path / "main_course"
    course.mkdir()
    (course / "gradebook.db").write_text("scores")
    secret_file = tmp_path / "private.toml"
    secret_file.write_text("seed = 1")
    result, log = _run(
        tmp_path,
        f"""
        import os
        for p in [{str(course / "gradebook.db")!r}, {str(secret_file)!r}, "/root/.bashrc"]:
            try:
                print("READ", p, open(p).read()[:10])
            except OSError as exc:
                print("HIDDEN", p, type(exc).__name__)
        open("ok.txt", "w").write("x"); print("RW OK")
        try:
            open({str(Path(sys.prefix) / "evil.txt")!r}, "w"); print("PREFIX WRITABLE")
        except OSError:
            print("PREFIX READ-ONLY")
        import kerascourse.autograder; print("KIT IMPORTS")
        print("UID", os.getuid())
        """,
        secrets=[course, secret_file],
    )
    assert result.returncode == 0, log
    assert "READ " not in log
    assert log.count("HIDDEN") == 3
    assert "RW OK" in log
    assert "PREFIX READ-ONLY" in log
    assert "KIT IMPORTS" in log
    if INFO.own_uid:
        assert "UID 0" not in log


@needs_bwrap
def test_timeout_kills_everything_started_inside(tmp_path):
    """Does the wall-clock timeout kill the run and a detached grandchild with it?"""
    start = time.monotonic()
    result, _log = _run(
        tmp_path,
        """
        import os, time
        if os.fork() == 0:
            os.setsid()
            time.sleep(4)
            open("survivor.txt", "w").write("I escaped")
            os._exit(0)
        time.sleep(120)
        """,
        timeout=2,
    )
    assert result.timed_out
    assert time.monotonic() - start < 20
    time.sleep(4)
    assert not (tmp_path / "job" / "course" / "survivor.txt").exists()


@needs_bwrap
def test_memory_and_fork_limits(tmp_path):
    """Do a memory bomb and a fork bomb hit their limits instead of the machine?"""
    _result, log = _run(
        tmp_path,
        """
        import os, time
        try:
            x = bytearray(6 * 1024**3)
            print("ALLOCATED 6 GiB")
        except MemoryError:
            print("MEMORY LIMITED")
        n = 0
        try:
            for _ in range(1000):
                if os.fork() == 0:
                    time.sleep(5)
                    os._exit(0)
                n += 1
            print("FORKED", n)
        except OSError:
            print("FORK LIMITED", n)
        """,
    )
    assert "MEMORY LIMITED" in log
    assert "FORK LIMITED" in log
