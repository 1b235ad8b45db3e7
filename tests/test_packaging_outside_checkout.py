"""Grading with an installed wheel, outside the checkout: ``--labs DIR`` or a clear error.

Why: a wheel ships the grader but no ``labs/`` (the lab sources hold the solutions and the
hidden tests), and ``kerascourse grade``/``check`` used to find the sources only through the
checkout the package was loaded from (issue 17). This builds the wheel from the package's
folders alone, installs it with ``--no-deps`` into a fresh venv, and runs the console
script from a folder outside the checkout.

The venv borrows the dependencies (Keras, TensorFlow, nbgrader: gigabytes) from the
checkout's ``.venv`` through a ``.pth`` line naming its site-packages. That folder is then
an ordinary ``sys.path`` entry *after* the venv's own site-packages, so the wheel's
``kerascourse`` is the one imported, and the ``.pth`` files in it (the editable install's
finder) are never run; nbconvert's templates are linked into the venv's ``share/jupyter``
and nbgrader's ``alembic`` script is re-made in the venv. The test proves it three times: the modules are imported from the venv,
the grading kernel nbgrader starts is the venv's python, and without ``--labs`` the command
fails for want of lab sources, which the editable install would have found in the checkout. ``--sandbox off``: the sandbox hides the checkout
(the lab sources' repository), borrowed dependencies included; a real install has its own.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

LAB = "lab00_tf_keras_foundations"  # the cheapest lab to grade


@pytest.fixture(scope="module")
def wheel_venv(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the kit's wheel installed (no deps) and the checkout's deps borrowed."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    for name in ["pyproject.toml", "README.md", "src", "widgets", "datasets", "autograder"]:
        path = root / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, src / name)
    wheels = base / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(wheels), str(src)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = wheels.glob("kerascourse-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(Path(sys.executable).parent / "uv"), "pip", "install", "-q", "--offline",
         "--no-deps", "--python", str(python), str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    own = subprocess.run(
        [str(python), "-c", "import site; print(site.getsitepackages()[0])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    (Path(own) / "_borrowed_deps.pth").write_text(site.getsitepackages()[0] + "\n")
    # nbgrader runs alembic's console script by name: the venv's own, on the venv's python.
    alembic = venv / "bin" / "alembic"
    alembic.write_text(
        f"#!{python}\nimport sys\nfrom alembic.config import main\nsys.exit(main())\n"
    )
    alembic.chmod(0o755)
    # nbconvert's templates (the feedback page) are data files of a borrowed dependency;
    # the checkout venv's kernelspec is not borrowed: it would start the checkout's python.
    share = venv / "share" / "jupyter"
    share.mkdir(parents=True)
    (share / "nbconvert").symlink_to(Path(sys.prefix) / "share" / "jupyter" / "nbconvert")
    return venv


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0")
    return env


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `argv` in `cwd` with a clean environment; the caller checks the exit status."""
    return subprocess.run(
        argv, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600, check=False
    )


@pytest.mark.slow
def test_the_installed_wheel_grades_with_labs_and_says_so_without(root, wheel_venv, tmp_path):
    """From a folder outside the checkout: does the wheel's ``kerascourse check`` refuse
    to start without lab sources, naming ``--labs``, and grade the lab's own solution
    notebook with ``--labs`` pointing at the checkout's labs/?"""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    assert not outside.resolve().is_relative_to(root)
    python = str(wheel_venv / "bin" / "python")
    where = (
        "import json, sys, kerascourse, kerascourse.autograder as a; "
        "from jupyter_client.kernelspec import KernelSpecManager as M; "
        "print(json.dumps([kerascourse.__file__, a.__file__, sys.path, "
        "M().get_kernel_spec('python3').argv[0]]))"
    )
    probe = _run([python, "-c", where], outside)
    assert probe.returncode == 0, probe.stderr
    core, grader, path, kernel = json.loads(probe.stdout)
    for module in (core, grader):
        assert Path(module).is_relative_to(wheel_venv), "imported the checkout, not the wheel"
    assert not [p for p in path if p and Path(p).resolve() in {root, root / "autograder"}]
    assert Path(kernel).parent == wheel_venv / "bin"  # the grading kernel: the venv's python

    notebook = outside / f"{LAB}.ipynb"
    shutil.copy2(root / "labs" / LAB / f"{LAB}.ipynb", notebook)  # the solution
    cli = [str(wheel_venv / "bin" / "kerascourse"), "check", str(notebook)]
    cli += ["--course", str(outside / "course"), "--sandbox", "off", "--no-progress"]
    bare = _run(cli, outside)
    assert bare.returncode == 2, bare.stdout + bare.stderr
    assert "No lab sources" in bare.stderr
    assert "--labs DIR" in bare.stderr
    assert not (outside / "course" / "nbgrader_config.py").exists()

    wrong = _run([*cli, "--labs", str(outside)], outside)
    assert wrong.returncode == 2
    assert f"hold no {LAB}" in wrong.stderr

    done = _run([*cli, "--labs", str(root / "labs")], outside)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "autograded total: 8/8" in done.stdout
    config = (outside / "course" / "nbgrader_config.py").read_text()
    assert repr(str((root / "labs").resolve())) in config


def test_setting_up_a_course_without_lab_sources_names_the_fix(monkeypatch, root, tmp_path):
    """Where no checkout is found (a wheel), is the course refused with --labs named, and
    are given sources checked for the lab before use?"""
    from kerascourse.autograder.pipeline import course

    monkeypatch.setattr(course, "default_labs_dir", lambda: None)
    with pytest.raises(course.CourseSetupError, match="Pass --labs DIR"):
        course.setup_course(tmp_path / "course")
    assert not (tmp_path / "course").exists()
    with pytest.raises(course.CourseSetupError, match=f"hold no {LAB}"):
        course.labs_source(tmp_path, LAB)
    assert course.labs_source(root / "labs", LAB) == (root / "labs").resolve()
