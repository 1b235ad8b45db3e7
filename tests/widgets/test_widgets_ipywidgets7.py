"""The explorers with ipywidgets 7 (what Colab ships), built offline from fetched wheels.

``.ci/bootstrap`` downloads ipywidgets 7.8.5 and ipython_genutils into
``.venv/wheels-ipyw7`` while the network is there. This test installs them into a
throwaway folder, puts it first on ``PYTHONPATH`` and re-runs the widget tests in a
subprocess; ``KERASCOURSE_EXPECT_IPYWIDGETS=7`` makes those tests check that they really
imported ipywidgets 7.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WHEELS = {
    "ipywidgets-7.8.5-py2.py3-none-any.whl": "8055fe314edd4c101a5f1ea230620ef5e315b0ca87f940264b4eac1faf9746ef",
    "ipython_genutils-0.2.0-py2.py3-none-any.whl": "72dd37233799e619666c9f639a9da83c34013a73e8bbc79a7a6348d93c61fab8",
}
WIDGET_TESTS = [
    "tests/widgets/test_widgets_activations.py",
    "tests/widgets/test_widgets_filters.py",
    "tests/widgets/test_widgets_embeddings.py",
    "tests/widgets/test_widgets_training.py",
]


@pytest.fixture(scope="module")
def ipywidgets7(tmp_path_factory) -> Path:
    """A folder with ipywidgets 7.8.5 installed from the hash-checked wheels, offline."""
    folder = Path(sys.prefix) / "wheels-ipyw7"
    missing = [name for name in WHEELS if not (folder / name).is_file()]
    assert not missing, (
        f"ipywidgets 7 wheels {missing} are not in {folder}. Fetch them once (needs the "
        f"network) with: bash .ci/bootstrap python3 {Path(sys.prefix)}"
    )
    for name, digest in WHEELS.items():
        got = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        assert got == digest, f"SHA256 of {name} does not match: expected {digest}, got {got}"
    target = tmp_path_factory.mktemp("ipywidgets7")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
         "--no-index", "--target", str(target), *[str(folder / n) for n in WHEELS]],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return target


def _env(target: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(target), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["KERASCOURSE_EXPECT_IPYWIDGETS"] = "7"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    return env


@pytest.mark.slow
def test_throwaway_folder_really_provides_ipywidgets_7(ipywidgets7):
    """Does a Python started with that PYTHONPATH import ipywidgets 7.8.5 from the folder?"""
    out = subprocess.run(
        [sys.executable, "-c", "import ipywidgets; print(ipywidgets.__version__, ipywidgets.__file__)"],
        env=_env(ipywidgets7), capture_output=True, text=True, check=True,
    )  # fmt: skip
    version, path = out.stdout.split()
    assert version == "7.8.5"
    assert path.startswith(str(ipywidgets7))


@pytest.mark.slow
def test_widget_tests_pass_with_ipywidgets_7(ipywidgets7):
    """Do the explorer and LivePlot widget tests all pass under ipywidgets 7?"""
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow",
         *WIDGET_TESTS],
        cwd=ROOT, env=_env(ipywidgets7), capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    tail = out.stdout[-3000:] + out.stderr[-2000:]
    assert out.returncode == 0, tail
    assert " passed" in out.stdout
    assert " failed" not in out.stdout
    assert "skipped" not in out.stdout, tail
