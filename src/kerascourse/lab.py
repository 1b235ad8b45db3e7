"""The JupyterLab launcher behind ``make lab`` (and the test that fetches /lab).

Why a module: the Makefile, the README and the server test must start *the same* command,
so it is built here once: JupyterLab on 127.0.0.1, at the course root, with TensorFlow
silenced, and ``--allow-root`` only when running as root (Jupyter refuses root otherwise).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from kerascourse import platform
from kerascourse.runner import QUIET_TF_ENV


def course_root(start: str | Path | None = None) -> Path:
    """The folder holding ``chapters/`` and ``labs/``.

    Looks at `start` (or the working directory) and its parents, then at the checkout an
    editable install points to. Raises FileNotFoundError with the fix when none is found.
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "chapters").is_dir() and (folder / "labs").is_dir():
            return folder
    import kerascourse.datasets as ds

    checkout = Path(ds.__file__).resolve().parents[1]
    if (checkout / "chapters").is_dir():
        return checkout
    msg = (
        f"No course folder found at or above {here} (it holds chapters/ and labs/). "
        "Run this from a clone of the course repository, or pass --root PATH."
    )
    raise FileNotFoundError(msg)


def lab_command(
    *, port: int = 8888, root: str | Path | None = None, open_browser: bool = True
) -> list[str]:
    """The exact argv that starts the course's JupyterLab."""
    argv = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--ServerApp.root_dir={course_root(root)}",
        "--ServerApp.default_url=/lab/tree/README.md",
    ]
    if not open_browser:
        argv.append("--no-browser")
    if platform.is_root():
        argv.append("--allow-root")
    return argv


def lab_env() -> dict[str, str]:
    """Environment for the server and its kernels: TensorFlow quiet on stderr."""
    env = dict(os.environ)
    env.update(QUIET_TF_ENV)
    return env


def launch(*, port: int = 8888, root: str | Path | None = None, open_browser: bool = True) -> None:
    """Replace this process with JupyterLab (what ``make lab`` ends in)."""
    argv = lab_command(port=port, root=root, open_browser=open_browser)
    os.execve(argv[0], argv, lab_env())
