"""The Colab set-up cell: installs the kit on Colab only, and is the same in every notebook.

The cell runs before ``kerascourse`` exists on Colab, so it is tested as what it is: its
source, executed with ``exec`` (Colab faked through the environment or ``sys.modules``,
``subprocess.run`` recording instead of installing) and in a plain Python process (no
Colab: no install, no output at all, since an stderr line zeroes an nbgrader grade cell).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest
import tomllib

from kerascourse import colab, platform

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = colab.course_notebooks(ROOT)
LABS = [p for p in NOTEBOOKS if p.parent.parent.name == "labs"]

EXPECTED_COMMAND = [
    sys.executable,
    "-m",
    "pip",
    "install",
    "-q",
    "kerascourse[colab] @ git+https://github.com/beyond-sequential/kerascourse@main",
]


class _Recorder:
    """Stands in for ``subprocess.run``: records each command, returns a chosen exit code."""

    def __init__(self, returncode: int = 0, stderr: str = "") -> None:
        self.calls: list[list[str]] = []
        self.kwargs: list[dict] = []
        self.returncode, self.stderr = returncode, stderr

    def __call__(self, cmd, **kwargs):
        self.calls.append(list(cmd))
        self.kwargs.append(kwargs)
        return subprocess.CompletedProcess(cmd, self.returncode, "", self.stderr)


@pytest.fixture
def recorder(monkeypatch):
    """``subprocess.run`` replaced by a recorder, and no Colab unless a test fakes it."""
    rec = _Recorder()
    monkeypatch.setattr(subprocess, "run", rec)
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    return rec


def _run_cell() -> dict:
    namespace: dict = {"__name__": "__main__"}
    # The cell's own text, run as the notebook would run it: exec is the point of the test.
    exec(compile(colab.SETUP_SOURCE, "<colab setup cell>", "exec"), namespace)  # noqa: S102
    return namespace


def test_on_colab_it_installs_the_package_without_tensorflow(recorder, monkeypatch, capsys):
    """With COLAB_RELEASE_TAG set, does the cell run exactly the expected pip command?"""
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab_20261101-060000_RC00")
    _run_cell()
    assert recorder.calls == [EXPECTED_COMMAND]
    assert recorder.kwargs == [{"capture_output": True, "text": True}]
    assert "tensorflow" not in " ".join(recorder.calls[0])
    assert capsys.readouterr().out == f"Installed the course kit: {EXPECTED_COMMAND[-1]}\n"


def test_an_imported_google_colab_is_also_colab(recorder, monkeypatch):
    """Is Colab detected from ``google.colab`` in sys.modules too, like platform.detect()?"""
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert platform.detect() == "colab"
    _run_cell()
    assert recorder.calls == [EXPECTED_COMMAND]


def test_a_failed_install_raises_with_pips_message(recorder, monkeypatch):
    """Does a failing pip stop the notebook with pip's own message instead of going on?"""
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab")
    recorder.returncode, recorder.stderr = 1, "ERROR: Could not find a version"
    with pytest.raises(RuntimeError, match="pip could not install the course kit:\nERROR: Could"):
        _run_cell()


def test_off_colab_it_installs_nothing(recorder, capsys):
    """Without Colab, does the cell call no subprocess and print nothing?"""
    assert platform.detect() != "colab"
    namespace = _run_cell()
    assert recorder.calls == []
    assert "KIT" not in namespace
    assert capsys.readouterr() == ("", "")


def test_off_colab_a_real_process_prints_nothing():
    """Run as a real program outside Colab, is stdout and stderr empty and the exit 0?"""
    env = {k: v for k, v in os.environ.items() if k != "COLAB_RELEASE_TAG"}
    proc = subprocess.run(
        [sys.executable, "-c", colab.SETUP_SOURCE],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_the_cell_detects_colab_like_the_kit():
    """Does the cell test the same two signs as kerascourse.platform.detect()?"""
    import inspect

    detect = inspect.getsource(platform.detect)
    condition = 'os.environ.get("COLAB_RELEASE_TAG") or "google.colab" in sys.modules'
    assert condition in detect
    assert f"if {condition}:" in colab.SETUP_SOURCE


def test_the_cell_is_short_and_the_extra_it_installs_exists():
    """Does the cell keep to 15 lines, and is its extra in pyproject without TensorFlow?"""
    lines = [ln for ln in colab.SETUP_SOURCE.splitlines() if ln.strip()]
    assert len(lines) <= 15
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    extra = re.search(r"kerascourse\[(\w[\w-]*)\]", colab.INSTALL_SPEC).group(1)
    assert extra in extras
    assert not [
        r for r in extras[extra] if r.lower().startswith(("tensorflow", "keras>", "keras="))
    ]


def test_there_are_notebooks_to_check():
    """Are the chapters and all labs found (so the parametrized tests cannot pass empty)?"""
    assert len([p for p in NOTEBOOKS if p.parent.name == "chapters"]) >= 8
    assert len(LABS) >= 7


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_every_notebook_starts_with_badge_and_the_same_cell(path):
    """Title with the right badge, then the prose and the set-up cell, byte for byte?"""
    nb = nbformat.read(path, as_version=4)
    title, intro, setup = nb.cells[:3]
    lines = title.source.splitlines()
    assert lines[0].startswith("# ")
    assert lines[2] == colab.badge_markdown(colab.badge_target(path, ROOT))
    assert (intro.cell_type, intro.source) == ("markdown", colab.INTRO_MARKDOWN)
    assert (setup.cell_type, setup.source) == ("code", colab.SETUP_SOURCE)
    assert (setup.outputs, setup.execution_count) == ([], None)
    assert sum(c.source == colab.SETUP_SOURCE for c in nb.cells) == 1


def test_badges_point_at_the_chapter_or_the_labs_student_version():
    """Does a chapter's badge open itself and a lab's the student version in release/?"""
    chapter = ROOT / "chapters" / "01_functional_api.ipynb"
    lab = ROOT / "labs" / "lab01_functional_api" / "lab01_functional_api.ipynb"
    base = "https://colab.research.google.com/github/beyond-sequential/kerascourse/blob/main/"
    assert colab.colab_url(colab.badge_target(chapter, ROOT)) == (
        base + "chapters/01_functional_api.ipynb"
    )
    assert colab.colab_url(colab.badge_target(lab, ROOT)) == (
        base + "release/lab01_functional_api/lab01_functional_api.ipynb"
    )


@pytest.mark.parametrize("path", LABS, ids=[p.name for p in LABS])
def test_in_labs_the_cell_is_locked_and_ungraded(path):
    """Is the lab's set-up cell a locked, ungraded nbgrader cell that nbgrader restores?"""
    nb = nbformat.read(path, as_version=4)
    (cell,) = [c for c in nb.cells if c.source == colab.SETUP_SOURCE]
    assert cell.metadata["nbgrader"] == colab.SETUP_NBGRADER
    assert cell.metadata["nbgrader"]["locked"] is True
    assert cell.metadata["nbgrader"]["grade"] is False


def test_sync_is_idempotent_and_restores_an_edited_cell(tmp_path):
    """Does re-syncing leave a synced notebook alone and put back an edited set-up cell?"""
    (tmp_path / "chapters").mkdir()
    path = tmp_path / "chapters" / "01_functional_api.ipynb"
    path.write_bytes((ROOT / "chapters" / path.name).read_bytes())
    assert colab.sync_notebooks(tmp_path, [path]) == []
    nb = nbformat.read(path, as_version=4)
    nb.cells[2].source = "!pip install tensorflow-cpu"
    nbformat.write(nb, path)
    assert colab.sync_notebooks(tmp_path, [path]) == [path]
    assert nbformat.read(path, as_version=4).cells[2].source == colab.SETUP_SOURCE


def test_sync_keeps_ids_and_gives_prose_to_a_chapters_imports():
    """On a notebook without the cells, are old ids kept and every code cell after prose?"""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Chapter 9\n\nThe first cell imports everything.", id="t"),
        nbformat.v4.new_code_cell("import keras", id="imports"),
    ]
    colab.apply(nb, "chapters/09_x.ipynb", lab=False)
    assert [c.get("id") for c in nb.cells] == [
        "t", colab.INTRO_ID, colab.SETUP_ID, colab.CHAPTER_SETUP_ID, "imports"
    ]  # fmt: skip
    assert "The set-up cell imports" in nb.cells[0].source
    assert "nbgrader" not in nb.cells[2].metadata
    nbformat.validate(nb)
