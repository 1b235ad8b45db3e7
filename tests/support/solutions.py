"""The labs' solutions for the tests, taken from the nbgrader source notebooks at run time.

Why here and why read from the notebooks: a lab's solution must not ship in the package
(a learner's kernel can import every ``kerascourse`` module; issue 17), and the tests
need solutions as models (lab03's block numbers, lab05's frozen flags, lab06's vocabulary
in the JSON). A second copy written out in Python would drift from the notebook the
grading tests submit; executing the notebook's own solution cells cannot. The notebook's
top-level imports run first (its set-up cell's ``keras``, ``layers``, ``conv_bn``, ...),
then each solution cell, in notebook order, in one namespace.

``tests/`` is not part of the distribution (``pyproject.toml`` lists the packages).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parents[2]  # tests/support/ -> the repository
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def source_notebook(lab_id: str) -> Path:
    """The lab's nbgrader source notebook (solutions and hidden tests in it)."""
    return ROOT / "labs" / lab_id / f"{lab_id}.ipynb"


def solution_cells(lab_id: str) -> list[str]:
    """Sources of the notebook's solution code cells (nbgrader ``solution: true``), in order."""
    nb = nbformat.read(source_notebook(lab_id), as_version=4)
    return [cell.source for cell in nb.cells if cell.cell_type == "code"
            and cell.metadata.get("nbgrader", {}).get("solution")]  # fmt: skip


def solution_regions(lab_id: str) -> Iterator[str]:
    """Every line between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (stripped)."""
    for source in solution_cells(lab_id):
        for region in re.findall(f"{BEGIN}\n(.*?){END}", source, flags=re.DOTALL):
            yield from (line.strip() for line in region.splitlines() if line.strip())


def namespace(lab_id: str) -> dict[str, Any]:
    """The notebook's top-level imports and solution cells, executed; name -> object."""
    nb = nbformat.read(source_notebook(lab_id), as_version=4)
    imports = [ast.unparse(node) for cell in nb.cells if cell.cell_type == "code"
               for node in ast.parse(cell.source).body
               if isinstance(node, ast.Import | ast.ImportFrom)]  # fmt: skip
    ns: dict[str, Any] = {"__name__": f"solution_{lab_id}"}
    exec("\n".join(imports), ns)  # noqa: S102 - the repository's own notebook
    for source in solution_cells(lab_id):
        exec(source, ns)  # noqa: S102
    return ns


def lab03_model() -> Any:
    """Lab03's solution network: the locked ``lab03_network`` on the solution's blocks."""
    ns = namespace("lab03_residual_inception")
    return ns["lab03_network"](ns["residual_block"], ns["inception_block"])


def lab05_model() -> Any:
    """Lab05's solution: augmentation, the pretrained base with blocks 1-2 frozen, a head."""
    return namespace("lab05_transfer_learning")["build_model"]()


def lab06_model(vocabulary: Sequence[str]) -> Any:
    """Lab06's solution architecture with `vocabulary` in its ``TextVectorization``."""
    return namespace("lab06_sentiment_lstm")["build_model"](list(vocabulary))


def model(lab_id: str) -> Any:
    """The solution model of a lab whose notebook has a ``build_model()`` or, for lab03,
    its network; lab06's needs a vocabulary (:func:`lab06_model`)."""
    if lab_id == "lab03_residual_inception":
        return lab03_model()
    return namespace(lab_id)["build_model"]()
