"""Shared fixtures and paths for the course kit's tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

# Kernels and subprocesses started by tests inherit a quiet TensorFlow.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


@pytest.fixture(scope="session", autouse=True)
def _private_embedding_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the widgets' t-SNE cache out of the user's ~/.cache during tests.

    Set in ``os.environ`` (not monkeypatch) so that notebook kernels started by tests
    inherit it; a test that checks the cache location sets its own value.
    """
    os.environ.setdefault("KERASCOURSE_CACHE", str(tmp_path_factory.mktemp("kerascourse-cache")))


@pytest.fixture(scope="session")
def root() -> Path:
    """The course repository root."""
    return ROOT


@pytest.fixture(scope="session")
def venv_python() -> str:
    """The interpreter running the tests (the course .venv under make test)."""
    return sys.executable


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium for the browser tests (Playwright's own download needs a network).

    `make test` installs it with apt when running as root (.ci/bootstrap). Without it the
    browser tests skip only where nobody could have installed it: not root and not CI; in
    CI, or as root, a missing browser fails with the fix.
    """
    if Path(CHROMIUM).exists():
        return CHROMIUM
    fix = f"{CHROMIUM} is missing: install Debian's chromium (sudo apt install chromium)"
    if os.geteuid() != 0 and not os.environ.get("CI"):
        pytest.skip(f"{fix}; not root and not CI, so the browser tests are skipped")
    pytest.fail(f"{fix}; as root or in CI, .ci/bootstrap installs it with apt")


CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(url: str) -> int:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status
    except OSError:
        return 0


@pytest.fixture
def lab_server(tmp_path: Path):
    """Start JupyterLab the way `make lab` does, at a folder; a context manager factory.

    ``with lab_server(root) as (base, token):`` serves `root` on a free loopback port in
    FAST mode, with JupyterLab's settings in `tmp_path` (every cell rendered, no news
    pop-up) so that autosave and workspaces never touch the repository. It yields once
    ``/api/status`` answers 200 and fails with the server's log when it does not within
    two minutes. ``lab_server(root, make=True)`` runs the README's command itself,
    ``make lab PORT=...`` in `root` (the repository), instead of the argv it ends in.
    """
    import contextlib
    import json
    import signal
    import subprocess
    import time

    from kerascourse import lab

    @contextlib.contextmanager
    def start(root: Path, *, make: bool = False):
        port, token = _free_port(), "kerascourse-browser-test"
        settings = tmp_path / "lab-settings" / "@jupyterlab"
        for plugin, values in {
            "notebook-extension/tracker": {"windowingMode": "none"},  # all cells in the page
            "apputils-extension/notification": {"fetchNews": "false"},
        }.items():
            path = settings / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = lab.lab_env()
        env.update({
            "JUPYTER_TOKEN": token, "KERASCOURSE_FAST": "1", "BROWSER": "true",
            "KERASCOURSE_CACHE": str(tmp_path / "cache"),
            "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        })  # fmt: skip
        argv = lab.lab_command(port=port, root=root, open_browser=False)
        if make:  # `make lab` ends in `kerascourse lab`, which builds that same argv
            argv = ["make", "--no-print-directory", "lab", f"PORT={port}"]
            env["PORT"] = str(port)
        log_path = tmp_path / "server.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(argv, cwd=root, env=env, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
            base = f"http://127.0.0.1:{port}"
            try:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and proc.poll() is None:
                    if _status(f"{base}/api/status?token={token}") == 200:
                        break
                    time.sleep(1)
                else:
                    pytest.fail(f"JupyterLab did not start: {log_path.read_text()[-2000:]}")
                yield base, token
            finally:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)

    return start


@pytest.fixture
def browser(chromium: str, tmp_path: Path):
    """A headless Chromium context (Playwright, Debian's browser), 1400x1000."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=chromium, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 1000},
        )  # fmt: skip
        try:
            yield context
        finally:
            context.close()

