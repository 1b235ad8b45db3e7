"""`kerascourse check` gives each lab's solution full marks (run by `make test-colab`).

Why this file: on Colab a learner's notebook runs on Colab's Keras and TensorFlow, not the
locked ones, and `kerascourse check` grades it with whatever the environment has. This
test plays that learner in the Colab environment (.venv-colab): the committed student
version (release/, what the Colab badge opens) with every solution cell of the lab's source
notebook typed in and the written answer given, checked through the console command.

Its name does not match ``test_*.py`` on purpose: `make test` would otherwise collect it,
and there every lab's solution is already graded end to end under the locked versions
(tests/autograder/labs/). `make test-colab` names this file, and pytest collects a file
named on its command line whatever its name.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from kerascourse.autograder.core.registry import get_lab, lab_ids

ROOT = Path(__file__).resolve().parents[2]
ANSWER = "A short honest answer to the written question, for the instructor to grade."


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def solved_release(lab_id: str) -> nbformat.NotebookNode:
    """The committed student version with the source notebook's solutions typed in."""
    lab = get_lab(lab_id)
    source = nbformat.read(ROOT / "labs" / lab_id / lab.notebook, as_version=4)
    release = nbformat.read(ROOT / "release" / lab_id / lab.notebook, as_version=4)
    solutions = {
        _nbgrader(c)["grade_id"]: "\n".join(ln for ln in c.source.splitlines() if "### " not in ln)
        for c in source.cells
        if c.cell_type == "code" and _nbgrader(c).get("solution")
    }
    manual = {c.grade_id for c in lab.grade_cells if c.manual}
    nb = copy.deepcopy(release)
    filled = set()
    for cell in nb.cells:
        gid = _nbgrader(cell).get("grade_id")
        if gid in solutions:
            cell.source, filled = solutions[gid], filled | {gid}
        elif gid in manual:
            cell.source = ANSWER
    assert filled == set(solutions), (
        f"solution cells missing from the release: {solutions.keys() - filled}"
    )
    return nb


@pytest.mark.slow
@pytest.mark.parametrize("lab_id", lab_ids())
def test_check_gives_the_solution_full_marks(lab_id, tmp_path):
    """Does `kerascourse check` on the solved student version print full autograded marks,
    with no locked cell reported as edited?"""
    lab = get_lab(lab_id)
    mine = tmp_path / lab.notebook
    nbformat.write(solved_release(lab_id), mine)
    proc = subprocess.run(
        [sys.executable, "-m", "kerascourse", "check", str(mine),
         "--course", str(tmp_path / "check-course"), "--no-progress"],
        capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    total = sum(float(c.points) for c in lab.autograded)
    assert f"autograded total: {total:g}/{total:g} (graded)" in proc.stdout, out[-4000:]
    assert "locked cell edited" not in proc.stdout, out[-4000:]
