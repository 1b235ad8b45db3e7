"""One distribution, three mapped folders, installable as a wheel or in editable mode."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SUBPACKAGES = ["kerascourse.widgets", "kerascourse.datasets", "kerascourse.autograder"]
TOP_LEVEL = [
    "chapters", "labs", "datasets", "autograder", "widgets", "environment.yml",
    "README.md", "pyproject.toml", "Makefile", "tests", "benchmarks", ".ci/run",
]  # fmt: skip


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_layout_has(root, name):
    """Is each top-level path of the design present?"""
    assert (root / name).exists(), f"missing {name} (see DESIGN.md, 'The house')"


def test_editable_install_maps_the_three_folders(root):
    """Does the editable install import each subpackage from its top-level folder?"""
    import kerascourse.autograder
    import kerascourse.datasets
    import kerascourse.widgets

    assert Path(kerascourse.widgets.__file__).parent == root / "widgets"
    assert Path(kerascourse.datasets.__file__).parent == root / "datasets"
    assert Path(kerascourse.autograder.__file__).parent == root / "autograder"


def _all_kit_modules(root: Path) -> list[str]:
    mods = []
    for pkg, folder in [("kerascourse", root / "src" / "kerascourse"),
                        ("kerascourse.widgets", root / "widgets"),
                        ("kerascourse.datasets", root / "datasets"),
                        ("kerascourse.autograder", root / "autograder")]:  # fmt: skip
        for f in sorted(folder.glob("*.py")):
            if f.stem == "__main__":
                continue
            mods.append(pkg if f.stem == "__init__" else f"{pkg}.{f.stem}")
    return mods


def test_importing_any_module_does_not_import_tensorflow(root):
    """Does `import kerascourse.<any>` leave TensorFlow and Keras unimported?"""
    mods = _all_kit_modules(root)
    code = textwrap.dedent(f"""
        import importlib, json, sys
        for m in {mods!r}:
            importlib.import_module(m)
        heavy = sorted(k for k in sys.modules if k.split(".")[0] in {{"tensorflow", "keras", "jax", "torch"}})
        print(json.dumps(heavy[:5]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [], f"heavy imports at import time: {out.stdout}"
    assert len(mods) >= 8  # the check covers the real modules, not an empty list


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_imports(root, tmp_path):
    """Does the built wheel install into a throwaway venv and import all three subpackages?"""
    src = tmp_path / "checkout"
    src.mkdir()
    for name in ["pyproject.toml", "README.md", "src", "widgets", "datasets", "autograder"]:
        p = root / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(p, src / name)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(wheels), str(src)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = wheels.glob("kerascourse-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    uv = Path(sys.executable).parent / "uv"
    subprocess.run(
        [str(uv), "pip", "install", "-q", "--offline", "--no-deps", "--python",
         str(venv / "bin" / "python"), str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    code = textwrap.dedent("""
        import json, importlib.resources as r, sys
        import kerascourse, kerascourse.widgets, kerascourse.datasets, kerascourse.autograder
        ds = r.files("kerascourse.datasets")
        manifest = json.loads((ds / "MANIFEST.json").read_text())
        shipped = [e["path"] for e in manifest if (ds / e["path"]).is_file()]
        print(json.dumps({"file": kerascourse.datasets.__file__, "manifest": len(manifest),
                          "shipped": len(shipped)}))
    """)
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert str(venv) in info["file"], "imported the checkout, not the wheel"
    assert info["manifest"] >= 6
    assert info["shipped"] == info["manifest"], "bundled data files missing from the wheel"
    console = venv / "bin" / "kerascourse"
    assert console.exists(), "the kerascourse console script was not installed"
