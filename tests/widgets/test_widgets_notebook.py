"""Headless runs and HTML exports show a picture for every explorer (the static fallback).

A small notebook runs in a real kernel through the kit's runner (as CI runs the chapters):
each explorer cell must leave exactly one output holding both the widget view and a PNG,
``LivePlot`` must leave one output (no flood of per-epoch outputs) whose PNG is the final
curves, and an HTML export without widget state must show every picture.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import io
import json
import os
import re
from types import SimpleNamespace

import nbformat
import pytest

from kerascourse.runner import execute_notebook

SETUP = """
import hashlib, numpy as np, keras
from kerascourse import datasets
from kerascourse.widgets import ActivationExplorer, FilterExplorer, EmbeddingExplorer, LivePlot
keras.utils.set_random_seed(0)
d = datasets.load("digits28")
x, y = d.x_train[:200], d.y_train[:200]
model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 3, activation="relu", name="conv1"),
    keras.layers.Flatten(), keras.layers.Dense(8, activation="relu", name="hidden"), keras.layers.Dense(10)], name="tiny")
model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
"""
CELLS = [
    SETUP.strip(),
    "history = model.fit(x, y, validation_split=0.25, epochs=4, verbose=0, callbacks=[LivePlot(min_interval=0)])",
    "ActivationExplorer(model, x[:4])",
    "FilterExplorer(model, steps=5)",
    "emb = EmbeddingExplorer(model, x, y, perplexity=10)\nemb",
    "print(hashlib.sha256(emb.png).hexdigest())",
]


# One worker runs this module: the other would only wait on the lock below for the kernel.
pytestmark = pytest.mark.xdist_group("widgets_headless")


@pytest.fixture(scope="session")
def run(tmp_path_factory):
    """The executed notebook and its stderr lines, computed once for all xdist workers.

    Under xdist the workers of one session share the parent of their base temp folders; a
    file lock makes the first one run the kernel while the others wait and read its result.
    """
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # this session only
    done = shared / "widgets-headless-executed.ipynb"
    with open(shared / "widgets-headless.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            nb = nbformat.v4.new_notebook()
            nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
            nb.metadata["kernelspec"] = {
                "name": "python3",
                "display_name": "Python 3",
                "language": "python",
            }
            path = tmp_path_factory.mktemp("headless") / "explorers.ipynb"
            nbformat.write(nb, path)
            result = execute_notebook(path, fast=True, offline=True, timeout=300)
            (shared / "widgets-headless-stderr.json").write_text(json.dumps(result.stderr))
            nbformat.write(result.notebook, done)
    stderr = json.loads((shared / "widgets-headless-stderr.json").read_text())
    return SimpleNamespace(notebook=nbformat.read(done, as_version=4), stderr=stderr)


def _outputs(run, index):
    return run.notebook.cells[index].outputs


def _png(output):
    from PIL import Image

    data = base64.b64decode(output["data"]["image/png"])
    return data, Image.open(io.BytesIO(data)).convert("RGB")


@pytest.mark.slow
def test_run_is_quiet(run):
    """Does the notebook run with nothing on stderr (which would zero a grade cell)?"""
    assert run.stderr == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("index", "name"), [(2, "ActivationExplorer"), (3, "FilterExplorer"), (4, "EmbeddingExplorer")]
)
def test_each_explorer_leaves_one_output_with_widget_and_png(run, index, name):
    """Does each explorer cell hold one output with the widget view and a non-blank PNG?"""
    (output,) = _outputs(run, index)
    assert "application/vnd.jupyter.widget-view+json" in output["data"]
    assert output["data"]["text/plain"].startswith(name)
    _, img = _png(output)
    lo, hi = img.convert("L").getextrema()
    assert lo != hi, f"{name}: blank picture"


@pytest.mark.slow
def test_live_plot_leaves_one_output_with_the_final_curves(run):
    """After 4 epochs, is there one output, showing the curves (not the waiting note)?"""
    (output,) = _outputs(run, 1)
    assert output["output_type"] == "display_data"
    _, img = _png(output)
    assert img.width > 300  # the waiting note is 360 x 40; curves are 420 x 300 per panel
    assert img.height >= 250


@pytest.mark.slow
def test_embedding_output_is_the_tsne_map_not_the_preview(run):
    """Is the stored PNG of the embedding explorer the final t-SNE picture?"""
    (output,) = _outputs(run, 4)
    data, _ = _png(output)
    (printed,) = _outputs(run, 5)
    assert hashlib.sha256(data).hexdigest() == printed["text"].strip()


@pytest.mark.slow
def test_html_export_without_widget_state_shows_every_picture(run):
    """Exported to HTML with no widget state, does each picture appear as an <img>?"""
    from nbconvert import HTMLExporter

    nb = nbformat.from_dict(run.notebook)
    nb.metadata.pop("widgets", None)  # what a learner's saved notebook usually has
    body, _ = HTMLExporter().from_notebook_node(nb)
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', body)) == 4
