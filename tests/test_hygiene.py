"""Notebooks are code: committed without outputs, with a kernelspec and prose before code."""

from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tracked_notebooks() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    tracked = [ROOT / p for p in out.stdout.split()] if out.returncode == 0 else []
    on_disk = sorted(ROOT.glob("chapters/*.ipynb")) + sorted(ROOT.glob("labs/*/*.ipynb"))
    return sorted(set(tracked) | set(on_disk))


NOTEBOOKS = _tracked_notebooks()


def test_hygiene_covers_the_chapters():
    """Is at least the first chapter among the checked notebooks?"""
    assert any(p.name == "01_functional_api.ipynb" for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_outputs_are_cleared(path):
    """Is every code cell stored without outputs and execution counts?"""
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]  # fmt: skip
    assert not dirty, f"{path.name}: clear outputs of cells {dirty} (Kernel > Restart & Clear)"
    assert "widgets" not in nb.metadata, f"{path.name}: saved widget state; clear it"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_valid_and_uses_python3_kernel(path):
    """Is the notebook valid nbformat 4 with the python3 kernelspec (Colab, Binder, local)?"""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


CHAPTERS = [p for p in NOTEBOOKS if p.parent.name == "chapters"]


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_chapter_has_prose_before_every_code_cell(path):
    """Does a markdown cell precede every code cell, and are code cells short (<= 15 lines)?"""
    nb = nbformat.read(path, as_version=4)
    previous = None
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert previous == "markdown", (
                f"{path.name}: code cell at index {i} has no prose before it"
            )
            lines = [ln for ln in cell.source.splitlines() if ln.strip()]
            assert len(lines) <= 15, f"{path.name}: cell {i} has {len(lines)} lines; split it"
        previous = cell.cell_type
    assert nb.cells[0].cell_type == "markdown"
    assert nb.cells[0].source.startswith("# ")

