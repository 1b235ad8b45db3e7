"""`kerascourse doctor` reports every check with its fix and fails on broken essentials."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kerascourse import doctor
from kerascourse.runner import QUIET_TF_ENV


def _doctor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "kerascourse", "doctor", *args],
        check=False, capture_output=True, text=True, env=full_env, timeout=300,
    )  # fmt: skip


#: What TensorFlow's C++ side prints at import when it is not told to be quiet.
TF_NOISE = re.compile(
    r"oneDNN|cuda|absl::InitializeLog|cpu_feature_guard|^[IWEF]\d{4} \d\d:\d\d",
    re.IGNORECASE | re.MULTILINE,
)


def test_doctor_passes_outside_make_and_prints_no_tensorflow_noise():
    """Run as a learner would (the console script, no TF_* variables exported by make):
    does it exit 0 and report Python, Keras, backend, data and font, and is stderr free
    of TensorFlow's C++ start-up lines? (One run: each start imports TensorFlow.)"""
    script = Path(sys.executable).with_name("kerascourse")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "kerascourse"]
    env = {k: v for k, v in os.environ.items() if k not in QUIET_TF_ENV}
    out = subprocess.run(
        [*command, "doctor", "--json"],
        check=False, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert not TF_NOISE.search(out.stderr), out.stderr
    report = {c["name"]: c for c in json.loads(out.stdout)}
    for name in ("Python", "Keras", "Keras backend", "GPU", "Platform", "Bundled datasets",
                 "CJK font"):  # fmt: skip
        assert name in report
    assert report["Keras"]["status"] == "ok"
    assert report["Keras"]["detail"].startswith("3.")
    assert report["Bundled datasets"]["status"] == "ok"
    assert report["GPU"]["status"] in {"ok", "info"}  # a CPU machine is fine, not a failure


def test_doctor_prints_a_table(capsys):
    """Does the default output show a readable table with a verdict?"""
    from kerascourse import cli

    assert cli.main(["doctor", "--no-gpu"]) == 0
    out = capsys.readouterr().out
    assert "kerascourse doctor" in out
    assert "Keras backend" in out
    assert "Ready." in out


@pytest.fixture
def broken_bundle(tmp_path):
    import kerascourse.datasets as ds

    bundle = tmp_path / "bundle"
    shutil.copytree(Path(ds.__file__).parent, bundle, ignore=shutil.ignore_patterns("__pycache__"))
    return bundle


def test_doctor_fails_on_a_corrupted_dataset_and_names_the_rebuild(broken_bundle):
    """Does a corrupted data file make the doctor exit 1 with the rebuild command as fix?"""
    import kerascourse.datasets as ds

    entry = next(e for e in ds.manifest() if e.name == "digits")
    target = broken_bundle / entry.path
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    out = _doctor("--json", "--no-gpu", env={"KERASCOURSE_BUNDLE_DIR": str(broken_bundle)})
    assert out.returncode == 1
    report = {c["name"]: c for c in json.loads(out.stdout)}
    assert report["Bundled datasets"]["status"] == "fail"
    assert "python -m kerascourse.datasets rebuild digits" in report["Bundled datasets"]["fix"]


def test_doctor_fails_on_a_missing_font(broken_bundle):
    """Does a deleted CJK font fail the font check with its rebuild command?"""
    import kerascourse.datasets as ds

    entry = next(e for e in ds.manifest() if e.name == "cjk_font")
    (broken_bundle / entry.path).unlink()
    out = _doctor("--json", "--no-gpu", env={"KERASCOURSE_BUNDLE_DIR": str(broken_bundle)})
    assert out.returncode == 1
    report = {c["name"]: c for c in json.loads(out.stdout)}
    assert report["CJK font"]["status"] == "fail"
    assert "rebuild cjk_font" in report["CJK font"]["fix"]


def test_a_crashing_check_is_reported_not_raised(monkeypatch):
    """Does one crashing check still leave a full report with a failure line?"""

    def boom() -> doctor.Check:
        raise RuntimeError("kaput")

    monkeypatch.setattr(doctor, "CHECKS", [doctor.check_python, boom])
    results = doctor.run_checks()
    assert [r.status for r in results] == ["ok", "fail"]
    assert "kaput" in results[1].detail
    assert doctor.exit_code(results) == 1


def test_optional_failures_do_not_fail_the_doctor():
    """Is a missing GPU or graphviz a note, not a non-zero exit?"""
    results = [doctor.Check("GPU", "info", "none", required=False),
               doctor.Check("graphviz + pydot", "warn", "missing", required=False)]  # fmt: skip
    assert doctor.exit_code(results) == 0


def test_unknown_backend_is_a_failure_with_the_fix(monkeypatch):
    """Does a misspelt KERAS_BACKEND fail with the valid choices?"""
    monkeypatch.setenv("KERAS_BACKEND", "tensorflw")
    check = doctor.check_backend()
    assert check.status == "fail"
    assert "tensorflow, jax or torch" in check.fix


def test_a_too_old_python_fails_with_the_version_needed_and_the_fix():
    """Is Python 3.10 a failure whose fix names 3.11 and the command to set up again?"""
    check = doctor.check_python((3, 10, 13))
    assert check.status == "fail"
    assert check.required
    assert check.detail == "3.10.13"
    assert "Python 3.11+" in check.fix
    assert "make PYTHON=python3.11 lab" in check.fix
    assert doctor.exit_code([check]) == 1


def test_the_python_floor_itself_is_fine():
    """Is exactly the floor (3.11.0) ok, and the running Python too?"""
    assert doctor.check_python((3, 11, 0)).status == "ok"
    assert doctor.check_python().status == "ok"
