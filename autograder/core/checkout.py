"""Where the course checkout is, found once: the folder that holds ``labs/``.

Why one helper: the course set-up needs the labs' source folder, the private-config
warning needs the repository, and the sandbox must hide the whole checkout (hidden tests,
solutions, git history) from a learner's code. Each used to find it its own way.
"""

from __future__ import annotations

from pathlib import Path

#: The repository checkout this package was loaded from (``pip install -e .``) or, for an
#: installed wheel, the folder above the package, which then holds no ``labs/``.
REPO_ROOT = Path(__file__).resolve().parents[2]
#: The labs' nbgrader source folder of that checkout.
LABS_DIR = REPO_ROOT / "labs"


def is_checkout(folder: str | Path) -> bool:
    """Whether ``folder`` is a course repository checkout (a git clone or a source tree)."""
    folder = Path(folder)
    return (folder / ".git").exists() or (folder / "pyproject.toml").exists()


def checkout_of(labs_dir: str | Path) -> Path | None:
    """The checkout that holds ``labs_dir``, or None when it stands on its own."""
    parent = Path(labs_dir).resolve().parent
    return parent if is_checkout(parent) else None
