"""Execute notebooks the way the tests, CI and the benchmarks do.

Why a module: "run every notebook top to bottom in FAST mode, offline, and say exactly
which cell failed" is needed by the test suite, ``make bench`` and instructors checking a
release, so it lives in one place. Each notebook gets a fresh kernel (no hidden state),
its own folder as working directory, TensorFlow silenced and the network guard of
:mod:`kerascourse.offline` installed before the first cell runs.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Environment every kernel started by the kit gets (see DESIGN.md, "Grading model").
QUIET_TF_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}

_GUARD_LINE = (
    "import kerascourse.offline as _kc_offline; _kc_offline.block_network(); del _kc_offline"
)


class NotebookCellError(RuntimeError):
    """A cell raised: carries the notebook, the cell number and the error."""

    def __init__(self, notebook: Path, cell_index: int, source: str, error: str) -> None:
        self.notebook, self.cell_index, self.source, self.error = (
            notebook,
            cell_index,
            source,
            error,
        )
        first = source.strip().splitlines()[0] if source.strip() else "<empty>"
        msg = f"{notebook.name}: code cell {cell_index} ({first[:60]!r}) failed:\n{error}"
        super().__init__(msg)


@dataclass
class RunResult:
    """What one execution produced: the executed notebook, wall time and stderr output."""

    path: Path
    notebook: Any
    seconds: float
    stderr: list[tuple[int, str]] = field(default_factory=list)

    def outputs_of_type(self, output_type: str) -> list[dict[str, Any]]:
        """All outputs of a type (``"display_data"``, ``"stream"``...) across code cells."""
        return [
            out
            for cell in self.notebook.cells
            if cell.cell_type == "code"
            for out in cell.get("outputs", [])
            if out.get("output_type") == output_type
        ]

    def images(self) -> list[str]:
        """Base64 PNGs the notebook displayed (plots, pictures)."""
        found = []
        for out in self.outputs_of_type("display_data") + self.outputs_of_type("execute_result"):
            png = out.get("data", {}).get("image/png")
            if png:
                found.append(png)
        return found

    def text(self) -> str:
        """All stdout text and text/plain results, joined (for asserting on printed values)."""
        parts = []
        for cell in self.notebook.cells:
            for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
                if out.get("output_type") == "stream" and out.get("name") == "stdout":
                    parts.append(out.get("text", ""))
                elif "data" in out:
                    parts.append(out["data"].get("text/plain", ""))
        return "".join(parts)


def kernel_env(*, fast: bool = True, offline: bool = True) -> dict[str, str]:
    """The environment for a kernel started by the kit."""
    env = dict(os.environ)
    env.update(QUIET_TF_ENV)
    env["KERASCOURSE_FAST"] = "1" if fast else "0"
    if offline:
        env["KERASCOURSE_OFFLINE"] = "1"
    else:
        env.pop("KERASCOURSE_OFFLINE", None)
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # debugpy's frozen-modules note goes to stderr
    return env


def execute_notebook(
    path: str | Path,
    *,
    fast: bool = True,
    offline: bool = True,
    timeout: int = 600,
    kernel_name: str = "python3",
) -> RunResult:
    """Run a notebook top to bottom in a fresh kernel and return what it produced.

    Args:
        path: the ``.ipynb`` file; its folder becomes the kernel's working directory.
        fast: set ``KERASCOURSE_FAST=1``. Defaults to `True`.
        offline: install the network guard before the first cell. Defaults to `True`.
        timeout: seconds allowed per cell. Defaults to `600`.
        kernel_name: the kernelspec to start. Defaults to `"python3"`.

    Raises:
        NotebookCellError: a cell raised; the message names notebook, cell and error.
    """
    import nbclient
    import nbformat
    from nbclient.exceptions import CellExecutionError

    path = Path(path).resolve()
    nb = nbformat.read(path, as_version=4)
    # log_level=ERROR: ipykernel 7 warns on its own stderr about unencrypted loopback TCP.
    extra = ["--IPKernelApp.log_level=ERROR"]
    if offline:
        extra.append(f"--IPKernelApp.exec_lines={_GUARD_LINE}")
    client = nbclient.NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(path.parent)}},
        extra_arguments=extra,
    )
    start = time.perf_counter()
    try:
        client.execute(env=kernel_env(fast=fast, offline=offline))
    except CellExecutionError as exc:
        index, source = _failing_cell(nb)
        raise NotebookCellError(path, index, source, _short_error(exc)) from None
    seconds = time.perf_counter() - start
    stderr = [
        (i, out.get("text", ""))
        for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code")
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream" and out.get("name") == "stderr"
    ]
    return RunResult(path=path, notebook=nb, seconds=seconds, stderr=stderr)


def _failing_cell(nb: Any) -> tuple[int, str]:
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for i, cell in enumerate(code_cells):
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return i, cell.source
    return -1, ""


def _short_error(exc: Exception) -> str:
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    return f"{ename}: {evalue}"


def find_notebooks(root: str | Path) -> list[Path]:
    """Chapters and lab *source* notebooks under the course root, in course order.

    Not ``release/``: the labs' student versions kept there for the Colab badges raise
    ``NotImplementedError`` in every solution stub by design. ``tests/test_release_notebooks.py``
    checks what they hold, and the end-to-end grading tests compare each with the release
    nbgrader makes from its lab.
    """
    root = Path(root)
    chapters = sorted((root / "chapters").glob("*.ipynb"))
    labs = sorted(
        p for p in (root / "labs").glob("*/*.ipynb") if ".ipynb_checkpoints" not in p.parts
    )
    return chapters + labs
