"""The student versions of the labs, kept in the repository for the Colab badges.

Why committed: a lab's Colab badge must open what a student gets (solutions replaced by
stubs, hidden tests removed), and Colab can only open a file that is on GitHub. They are
made by the kit's own nbgrader step (:func:`kerascourse.autograder.pipeline.course.generate_assignment`,
the real ``nbgrader generate_assignment``) in a throwaway course, and only the notebook is
copied to ``release/<lab_id>/<lab_id>.ipynb``. Not inside ``labs/``: nbgrader releases every
file of ``labs/<lab_id>/``, so a student version there would be shipped with the lab.
``tests/test_release_notebooks.py`` regenerates them and fails when one is stale.

Run ``kerascourse release-notebooks`` (or ``make release-notebooks``) after editing a lab.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kerascourse.colab import RELEASE_DIR


def lab_ids(labs_dir: Path) -> list[str]:
    """The labs of a checkout: folders ``labs/<lab_id>/`` holding ``<lab_id>.ipynb``."""
    return sorted(
        p.parent.name for p in Path(labs_dir).glob("*/*.ipynb") if p.stem == p.parent.name
    )


def generate(labs_dir: Path, out_dir: Path, lab_id_list: Iterable[str] | None = None) -> list[Path]:
    """Generate each lab's student version with nbgrader and copy it to ``out_dir``.

    Args:
        labs_dir: the lab sources (the repository's ``labs/``).
        out_dir: where ``<lab_id>/<lab_id>.ipynb`` are written (the repository's
            ``release/``, or a temporary folder to compare with it).
        lab_id_list: the labs to generate. Defaults to every lab in ``labs_dir``.

    Raises:
        kerascourse.autograder.pipeline.course.CourseSetupError: nbgrader failed for a lab.
    """
    from kerascourse.autograder.pipeline.course import (
        IGNORED_FILES,
        generate_assignment,
        setup_course,
    )

    labs_dir, out_dir = Path(labs_dir).resolve(), Path(out_dir)
    ids = list(lab_id_list) if lab_id_list is not None else lab_ids(labs_dir)
    written = []
    with tempfile.TemporaryDirectory(prefix="kerascourse-release-") as tmp:
        # A copy of the sources: a notebook run in labs/ at the same time (the tests do)
        # leaves export files there, and nbgrader should see a quiet folder.
        sources = Path(tmp) / "labs"
        for lab_id in ids:
            shutil.copytree(
                labs_dir / lab_id, sources / lab_id, ignore=shutil.ignore_patterns(*IGNORED_FILES)
            )
        course = Path(tmp) / "course"
        setup_course(course, sources)
        for lab_id in ids:
            released = generate_assignment(course, lab_id)
            dest = out_dir / lab_id / released.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(released, dest)
            written.append(dest)
    return written


def comparable(path: Path) -> dict[str, Any]:
    """What a committed student version and a fresh one must agree on.

    The kernelspec and each cell's type, source, nbgrader metadata (checksums included:
    nbgrader writes nothing volatile, two generations are byte-identical) and editability.
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    return {
        "kernelspec": nb.metadata.get("kernelspec"),
        "cells": [
            (c.cell_type, c.source, c.metadata.get("nbgrader", {}), c.metadata.get("editable"))
            for c in nb.cells
        ],
    }


def stale_message(lab_id: str) -> str:
    """What to do when the committed student version differs from a fresh one."""
    return (
        f"{RELEASE_DIR}/{lab_id} is stale: run `kerascourse release-notebooks` (make "
        f"release-notebooks) and commit {RELEASE_DIR}/"
    )


def write_release_notebooks(root: Path) -> list[Path]:
    """Regenerate ``release/`` of a checkout from its ``labs/``; return the notebooks."""
    root = Path(root)
    return generate(root / "labs", root / RELEASE_DIR)
