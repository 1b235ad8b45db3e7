"""The Python floor is the one the pins allow, stated the same everywhere, and enforced.

nbgrader 0.9.6 (and numpy 2, scikit-learn, matplotlib) in requirements.lock need Python
3.11; on 3.10 only nbgrader 0.9.5 resolves. The floor is said by pyproject's
``requires-python``, ``.ci/bootstrap`` (which stops `make lab` at once), the doctor's
Python row, README, environment.yml and constraints-oldest.txt; these tests keep them equal
and check that a too-old Python stops set-up before anything is downloaded. The old Python
is a fake shell script, not a real 3.10, so the tests need no second Python installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from importlib import metadata
from pathlib import Path

import pytest
import tomllib
import yaml

from kerascourse.doctor import MIN_PYTHON

ROOT = Path(__file__).resolve().parents[1]
FLOOR = ".".join(map(str, MIN_PYTHON))

#: A Python 3.10.13 that answers only the two questions .ci/bootstrap asks it (its version,
#: and "are you older than 3.11?"); anything else it is asked to do is written to CALLS.
FAKE_PYTHON = """#!/bin/sh
case "$*" in
  *print*) echo "Python 3.10.13" ;;
  *version_info*) exit 1 ;;
  *) echo "$*" >> "{calls}"; exit 3 ;;
esac
"""


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requires_python_floor(spec: str) -> tuple[int, int]:
    found = [(int(a), int(b)) for a, b in re.findall(r">=?\s*(\d+)\.(\d+)", spec or "")]
    return max(found, default=(3, 0))


def test_the_floor_is_the_highest_minimum_of_the_locked_packages():
    """Is MIN_PYTHON exactly the highest Requires-Python of the installed locked packages
    (so neither too low, as 3.10 was, nor higher than the pins need)?"""
    locked = {
        _norm(m.group(1))
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if (m := re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==", line))
    }
    floors = {}
    for dist in metadata.distributions():
        name = _norm(dist.metadata["Name"])
        if name in locked:
            floors[name] = _requires_python_floor(dist.metadata.get("Requires-Python", ""))
    assert "nbgrader" in floors, "run in the locked .venv (make test)"
    highest = max(floors.values())
    assert highest == MIN_PYTHON, {n: f for n, f in floors.items() if f == highest}
    assert floors["nbgrader"] == MIN_PYTHON


def test_every_place_states_the_same_floor():
    """Do pyproject, bootstrap, README, environment.yml and constraints-oldest say 3.11?"""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == f">={FLOOR}"
    bootstrap = (ROOT / ".ci" / "bootstrap").read_text()
    assert f"sys.version_info < ({MIN_PYTHON[0]}, {MIN_PYTHON[1]})" in bootstrap
    assert f"min_python={FLOOR}\n" in bootstrap
    readme = (ROOT / "README.md").read_text()
    assert f"You need Python {FLOOR}+" in readme
    assert f"Python {FLOOR})" in readme  # the oldest-versions paragraph
    assert not re.search(r"Python 3\.(?:[0-9]|10)\+", readme)
    assert f"# Python: {FLOOR}," in (ROOT / "constraints-oldest.txt").read_text()
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    (python,) = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python=")]
    assert tuple(map(int, python.split("=")[1].split("."))) >= MIN_PYTHON


@pytest.fixture
def old_python(tmp_path: Path) -> tuple[Path, Path]:
    """(the fake Python 3.10.13, the file where it logs any other call)."""
    calls = tmp_path / "calls.log"
    fake = tmp_path / "bin" / "python3.10"
    fake.parent.mkdir()
    fake.write_text(FAKE_PYTHON.format(calls=calls))
    fake.chmod(0o755)
    return fake, calls


def _assert_stopped_at_once(proc: subprocess.CompletedProcess, seconds: float, calls: Path):
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert f"Python {FLOOR}+ is required" in proc.stderr, proc.stderr
    assert "Python 3.10.13" in proc.stderr, proc.stderr
    assert f"make PYTHON=python{FLOOR} lab" in proc.stderr, proc.stderr
    assert not calls.exists(), f"the old Python was asked to do more: {calls.read_text()}"
    assert seconds < 10, f"took {seconds:.1f} s: set-up must stop before downloading anything"


def test_bootstrap_stops_at_once_on_a_too_old_python(old_python, tmp_path):
    """Does .ci/bootstrap with Python 3.10 exit non-zero naming 3.11 and the command to run,
    before creating the venv or asking that Python for anything else?"""
    fake, calls = old_python
    venv = tmp_path / "venv"
    start = time.perf_counter()
    proc = subprocess.run(
        ["bash", str(ROOT / ".ci" / "bootstrap"), str(fake), str(venv), "requirements.lock"],
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
    )  # fmt: skip
    _assert_stopped_at_once(proc, time.perf_counter() - start, calls)
    assert not venv.exists()


def test_make_lab_stops_when_the_venv_was_made_with_an_old_python(old_python, tmp_path):
    """With an up-to-date venv made by Python 3.10 (stamp newer than the lock), does
    `make lab` stop at once, say so and how to redo it, instead of starting JupyterLab?"""
    fake, calls = old_python
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    shutil.copy2(fake, venv / "bin" / "python")
    (venv / ".kerascourse-installed").touch()  # newer than requirements.lock and pyproject
    start = time.perf_counter()
    proc = subprocess.run(
        ["make", "--no-print-directory", "lab", f"VENV={venv}", "PYTHON=python3"],
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    assert f"{venv} was made with Python 3.10.13" in proc.stderr, proc.stderr
    assert "make clean-venv" in proc.stderr
    _assert_stopped_at_once(proc, seconds, calls)
    assert "kerascourse lab" not in proc.stdout  # the lab command was never reached


def test_make_lab_with_an_old_python_and_no_venv_creates_nothing(old_python, tmp_path):
    """Does `make lab PYTHON=<3.10>` stop before creating the venv?"""
    fake, calls = old_python
    venv = tmp_path / "venv"
    start = time.perf_counter()
    proc = subprocess.run(
        ["make", "--no-print-directory", "lab", f"VENV={venv}", f"PYTHON={fake}"],
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
    )  # fmt: skip
    _assert_stopped_at_once(proc, time.perf_counter() - start, calls)
    assert not venv.exists()
