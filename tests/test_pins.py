"""One set of versions: requirements.lock, environment.yml and pyproject agree."""

from __future__ import annotations

import re

import pytest
import tomllib
import yaml

from kerascourse.doctor import _version_tuple


def _lock(root):
    pins = {}
    for line in (root / "requirements.lock").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)", line)
        if m:
            pins[_norm(m.group(1).split("[")[0])] = m.group(2)
    return pins


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _env_pip(root):
    env = yaml.safe_load((root / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pins = {}
    for item in pip:
        m = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)$", item)
        assert m, f"environment.yml pip entry {item!r} is not pinned with =="
        pins[_norm(m.group(1))] = m.group(2)
    return env, pins


def _pyproject_runtime(root):
    meta = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    reqs = meta["dependencies"] + meta["optional-dependencies"]["course"]
    reqs += meta["optional-dependencies"]["tf-cpu"]
    return {_norm(re.split(r"[<>=!\[ ;]", r, maxsplit=1)[0]): r for r in reqs}


def test_environment_yml_pins_equal_the_lock(root):
    """Does every pip pin in environment.yml equal the version in requirements.lock?"""
    lock = _lock(root)
    _, env = _env_pip(root)
    drift = {n: (v, lock.get(n)) for n, v in env.items() if lock.get(n) != v}
    assert not drift, f"environment.yml vs requirements.lock (yml, lock): {drift}; run make lock"


def test_environment_yml_lists_every_runtime_dependency(root):
    """Is each runtime/course dependency of pyproject pinned in environment.yml?"""
    _, env = _env_pip(root)
    missing = sorted(set(_pyproject_runtime(root)) - set(env))
    assert not missing, f"add these to environment.yml's pip section: {missing}"


def test_environment_yml_is_valid_for_binder(root):
    """Does environment.yml use conda-forge and pin the Python the lock was made for?"""
    env, _ = _env_pip(root)
    assert env["channels"] == ["conda-forge"]
    pythons = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python=")]
    assert pythons == ["python=3.11"]
    assert "--python-version 3.11" in (root / "requirements.lock").read_text()


def test_lock_satisfies_pyproject_lower_bounds(root):
    """Does every locked version meet pyproject's lower bound for that package?"""
    lock = _lock(root)
    for name, req in _pyproject_runtime(root).items():
        m = re.search(r">=([0-9.]+)", req)
        if m:
            assert name in lock, f"{name} missing from requirements.lock"
            assert _version_tuple(lock[name]) >= _version_tuple(m.group(1)), (name, req)


@pytest.mark.parametrize("dist", ["tensorflow-cpu", "keras", "nbgrader", "jupyterlab"])
def test_installed_versions_match_the_lock(root, dist):
    """Is the environment running the tests the locked one (no silent upgrade)?"""
    from importlib import metadata

    assert metadata.version(dist) == _lock(root)[dist]


def _oldest(root):
    pins = {}
    for line in (root / "constraints-oldest.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)$", line.strip())
        if m:
            pins[_norm(m.group(1))] = m.group(2)
    return pins


def test_oldest_versions_are_the_claimed_lower_bounds(root):
    """Do constraints-oldest.txt, pyproject's lower bounds, the doctor and README agree?"""
    from kerascourse.doctor import MIN_KERAS

    oldest = _oldest(root)
    declared = _pyproject_runtime(root)
    for name in ("keras", "tensorflow-cpu", "numpy"):
        bound = re.search(r">=([0-9.]+)", declared[name]).group(1)
        assert _version_tuple(oldest[name])[:2] == _version_tuple(bound)[:2], (name, bound)
    assert _version_tuple(oldest["keras"])[:2] == MIN_KERAS
    readme = (root / "README.md").read_text()
    assert f"Keras {oldest['keras']} with TensorFlow {oldest['tensorflow-cpu']}" in readme
