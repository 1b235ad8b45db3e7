"""`make lab` serves JupyterLab at the course root on 127.0.0.1, and the page loads.

The server is started by the shared ``lab_server`` fixture (tests/conftest.py) with
``make=True``: the README's command, polled until it answers, stopped with its process group.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from kerascourse import lab

ROOT = Path(__file__).resolve().parents[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def test_lab_command_binds_loopback_at_the_course_root():
    """Is the server command bound to 127.0.0.1, rooted at the course, root-aware?"""
    argv = lab.lab_command(port=9999, root=ROOT, open_browser=False)
    assert "--ip=127.0.0.1" in argv
    assert "--port=9999" in argv
    assert f"--ServerApp.root_dir={ROOT}" in argv
    assert ("--allow-root" in argv) == (os.geteuid() == 0)


def test_course_root_error_names_the_fix(tmp_path, monkeypatch):
    """Outside a course folder (and with no checkout), is the fix named?"""
    import kerascourse.datasets as ds

    monkeypatch.setattr(ds, "__file__", str(tmp_path / "x" / "datasets" / "__init__.py"))
    with pytest.raises(FileNotFoundError, match="pass --root PATH"):
        lab.course_root(tmp_path)


@pytest.mark.slow
def test_make_lab_serves_the_lab_page(lab_server):
    """Does `make lab` (the README command) start a server whose /lab page loads?"""
    with lab_server(ROOT, make=True) as (base, token):  # fails unless /api/status is 200
        status, page = _get(f"{base}/lab?token={token}")
        assert status == 200
        assert "JupyterLab" in page
        status, body = _get(f"{base}/api/contents/chapters?token={token}")
        assert status == 200
        assert "01_functional_api.ipynb" in body
        status, body = _get(f"{base}/api/kernelspecs?token={token}")
        assert '"TF_CPP_MIN_LOG_LEVEL": "3"' in body, "kernels would not start with TF quiet"
