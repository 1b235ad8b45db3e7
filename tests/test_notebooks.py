"""Every chapter and lab source notebook runs top to bottom in FAST mode, offline, quietly.

Each notebook gets a fresh kernel with the network guard installed and TensorFlow
silenced; a failing cell fails the test with the notebook, cell and error. Wall times go
to benchmarks/results/notebooks.json (measured, never asserted).
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import os
import platform
import time
from pathlib import Path

import nbformat
import pytest

from kerascourse.runner import NotebookCellError, execute_notebook, find_notebooks

ROOT = Path(__file__).resolve().parents[1]
#: Executed by a stricter test of their own (the same FAST, offline, no-stderr run, plus
#: their printed checks and the trusted score of their export): running them here too
#: would repeat a minute of TensorFlow for nothing.
#:
#: The other labs' end-to-end tests (tests/autograder/labs/) do not count: the grading
#: kernel runs the *release* with every test cell replaced by a stub (no self-check runs
#: in it, hidden ones never), under nbgrader's IgnorePattern (known stderr noise dropped)
#: and without the Python network guard (bubblewrap's network namespace, where it runs),
#: and the autograded notebook keeps the trusted scorer's report in place of the test
#: cells' outputs. Only this run executes a lab's self-checks in a kernel and sees all of
#: their output; the end-to-end tests check the rest of the graded run for errors and
#: stderr (support/labcase.py, assert_runs_cleanly_when_graded).
EXECUTED_ELSEWHERE = {
    "lab01_functional_api.ipynb": "tests/autograder/labs/test_lab01.py::"
    "test_solution_runs_quietly_and_its_export_gets_full_marks",
}
NOTEBOOKS = [p for p in find_notebooks(ROOT) if p.name not in EXECUTED_ELSEWHERE]
#: `make test-colab` points this elsewhere: Colab's versions must not overwrite these times.
TIMES = ROOT / os.environ.get("KERASCOURSE_NOTEBOOK_TIMES", "benchmarks/results/notebooks.json")

# What each notebook must visibly produce, beyond running cleanly.
EXPECTED: dict[str, dict[str, object]] = {
    "01_functional_api.ipynb": {"min_images": 2, "text": ["Test accuracy"]},
}


def _record_time(name: str, seconds: float) -> None:
    TIMES.parent.mkdir(parents=True, exist_ok=True)
    with open(TIMES.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(TIMES.read_text()) if TIMES.exists() else {}
        data.setdefault("notebooks", {})[name] = {
            "seconds_fast_mode": round(seconds, 1),
            "measured": time.strftime("%Y-%m-%d"),
        }
        data["machine"] = f"{platform.machine()}, {__import__('os').cpu_count()} cores"
        data["note"] = "FAST mode (KERASCOURSE_FAST=1), pytest -n 2, one fresh kernel each"
        TIMES.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def test_there_are_notebooks_to_run():
    """Does the runner find the chapters (so the parametrized test cannot pass empty), and
    is every notebook left out here really executed by the test named for it?"""
    assert any(p.parent.name == "chapters" for p in NOTEBOOKS)
    for name, test in EXECUTED_ELSEWHERE.items():
        path, _, func = test.partition("::")
        source = (ROOT / path).read_text()
        assert f"def {func}(" in source
        assert "execute_notebook(" in source.split(f"def {func}(")[1].split("\ndef ")[0], name


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_in_fast_mode(path):
    """Does the notebook run without errors or stderr, and produce what it teaches?"""
    result = execute_notebook(path, fast=True, offline=True, timeout=600)
    _record_time(str(path.relative_to(ROOT)), result.seconds)
    assert result.stderr == [], f"cells wrote to stderr (zeroes grade cells): {result.stderr}"
    expected = EXPECTED.get(path.name, {"min_images": 1 if path.parent.name == "chapters" else 0})
    images = result.images()
    assert len(images) >= expected.get("min_images", 0), f"only {len(images)} images shown"
    for png in images:  # every picture is a real, non-blank PNG
        from PIL import Image

        img = Image.open(io.BytesIO(base64.b64decode(png))).convert("L")
        assert img.getextrema()[0] != img.getextrema()[1], "a displayed image is blank"
    text = result.text()
    for snippet in expected.get("text", []):
        assert snippet in text, f"expected output {snippet!r} not printed"


def _write_nb(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def test_kernels_are_offline(tmp_path):
    """Would a notebook cell that downloads something fail under the runner?"""
    nb = _write_nb(
        tmp_path / "net.ipynb",
        "import urllib.request\n"
        "try:\n    urllib.request.urlopen('https://storage.googleapis.com/', timeout=5)\n"
        "    print('ONLINE')\nexcept OSError as e:\n    print('BLOCKED', type(e).__name__, e)",
    )
    text = execute_notebook(nb).text()
    assert "BLOCKED" in text
    assert "ONLINE" not in text
    assert "Network access is disabled" in text


def test_kernels_run_fast_in_the_notebook_folder(tmp_path):
    """Does the kernel see FAST mode and start in the notebook's own folder?"""
    nb = _write_nb(
        tmp_path / "env.ipynb",
        "import os\nfrom kerascourse import settings\nprint(settings.FAST, os.getcwd())",
    )
    assert execute_notebook(nb).text().strip() == f"True {tmp_path}"


@pytest.mark.slow
def test_tensorflow_writes_nothing_to_stderr(tmp_path):
    """Does importing TF and training a model in a kit kernel leave stderr empty?"""
    nb = _write_nb(
        tmp_path / "tf.ipynb",
        "import numpy as np, keras, tensorflow as tf\n"
        "m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])\n"
        "m.compile(optimizer='adam', loss='mse')\n"
        "h = m.fit(np.ones((16, 3)), np.ones((16, 1)), epochs=2, verbose=0)\n"
        "print(tf.__version__, len(h.history['loss']))",
    )
    result = execute_notebook(nb)
    assert result.text().strip().endswith(" 2")
    assert result.stderr == []


def test_a_failing_cell_names_notebook_cell_and_error(tmp_path):
    """Does a raising cell fail with the notebook name, cell number and the error?"""
    nb = _write_nb(tmp_path / "broken.ipynb", "x = 1", "print(undefined_name)")
    with pytest.raises(NotebookCellError) as info:
        execute_notebook(nb)
    message = str(info.value)
    assert "broken.ipynb" in message
    assert "code cell 1" in message
    assert "NameError" in message
    assert "undefined_name" in message
