"""The instructor's nbgrader course as the pipeline reads it, and the private course
each submission is graded in.

Why a module of its own: the class run (:mod:`kerascourse.autograder.pipeline.run`),
the feedback step (:mod:`kerascourse.autograder.pipeline.feedback`) and the tests all
read the course the way nbgrader does (:func:`read_course`); the per-submission
course starts from a throwaway gradebook built from the *release* notebook
(:func:`build_template_gradebook`) and a config re-pointed at it (:func:`private_config`).
Setting up the course folder itself is :mod:`kerascourse.autograder.pipeline.course`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kerascourse.autograder.core.checkout import LABS_DIR


@dataclass(frozen=True)
class CourseInfo:
    """Facts about the main course read from its ``nbgrader_config.py``."""

    root: Path
    db_url: str
    course_id: str
    source_dir: Path
    config_text: str


def read_course(course_dir: Path) -> CourseInfo:
    """Load the course's nbgrader config (the way nbgrader does) and pick what we need."""
    from traitlets.config.loader import PyFileConfigLoader

    path = course_dir / "nbgrader_config.py"
    saved = dict(os.environ)
    try:
        cfg = PyFileConfigLoader(path.name, path=str(course_dir)).load_config()
    finally:  # the course config may set variables for kernels; keep ours unchanged
        os.environ.clear()
        os.environ.update(saved)
    cd = cfg.get("CourseDirectory", {})
    root = Path(cd.get("root", course_dir))
    source = Path(cd.get("source_directory", "source"))
    return CourseInfo(
        root=root,
        db_url=str(cd.get("db_url", f"sqlite:///{root / 'gradebook.db'}")),
        course_id=str(cd.get("course_id", "default_course")),
        source_dir=source if source.is_absolute() else root / source,
        config_text=path.read_text(encoding="utf-8"),
    )


def prepare_course(course_dir: Path, lab_id: str, labs_dir: str | None = None) -> Path:
    """Set up the course folder and release the lab if that was not done; return the release.

    Runs ``setup_course`` only when there is no ``nbgrader_config.py`` and
    ``generate_assignment`` only when the release notebook or the gradebook's record of
    the lab is missing (an existing release and its gradebook are never regenerated).
    """
    from kerascourse.autograder.pipeline import course as course_mod

    course_dir.mkdir(parents=True, exist_ok=True)
    if not (course_dir / course_mod.CONFIG_NAME).exists():
        course_mod.setup_course(course_dir, labs_dir or LABS_DIR)
    release = course_mod.release_path(course_dir, lab_id)
    info = read_course(course_dir)
    if not release.is_file() or not gradebook_has(info.db_url, lab_id):
        release = course_mod.generate_assignment(course_dir, lab_id)
    return release


def gradebook_has(db_url: str, lab_id: str) -> bool:
    """Whether the gradebook at `db_url` already knows the notebooks of `lab_id`."""
    from nbgrader.api import Gradebook, MissingEntry

    if db_url.startswith("sqlite:///") and not Path(db_url[len("sqlite:///") :]).exists():
        return False
    with Gradebook(db_url) as gb:
        try:
            return bool(gb.find_assignment(lab_id).notebooks)
        except MissingEntry:
            return False


def build_template_gradebook(
    release_nb_path: Path,
    lab_id: str,
    dest: Path,
    *,
    course_id: str = "default_course",
    stub_tests: bool = True,
) -> Path:
    """A fresh gradebook describing the lab as the *release* notebook does.

    The private course of each submission starts from a copy of it. Built from the
    release notebook, it holds no hidden tests (nbgrader's own gradebook keeps the source
    versions of locked cells, hidden tests included, to restore them at autograde time),
    no other students and no scores: nothing worth stealing or forging from the kernel.

    With `stub_tests` (the default) the locked test cells are recorded as
    :data:`TEST_STUB`, so nbgrader restores every test cell to a comment and the grading
    kernel runs no test at all: the scores come from the trusted scorer, and in-kernel
    tests would only cost time (lab01's self-checks train the model) and give student
    code something to tamper with. Other locked cells (set-up, data, export) run as
    released.
    """
    import nbformat
    from nbgrader.api import Gradebook
    from nbgrader.utils import compute_checksum

    key = hashlib.sha256(release_nb_path.read_bytes() + f"{lab_id}{course_id}{stub_tests}".encode())
    stamp = dest.with_suffix(".sha256")
    if dest.exists() and stamp.exists() and stamp.read_text() == key.hexdigest():
        return dest  # built from this very release before (creating one costs ~5 s)
    nb = nbformat.read(release_nb_path, as_version=4)
    notebook_id = release_nb_path.stem
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp.db")
    tmp.unlink(missing_ok=True)
    with Gradebook(f"sqlite:///{tmp}", course_id) as gb:
        gb.update_or_create_assignment(lab_id)
        gb.update_or_create_notebook(
            notebook_id, lab_id, kernelspec=json.dumps(nb.metadata.get("kernelspec", {}))
        )
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            gid = meta.get("grade_id")
            if not gid:
                continue
            if meta.get("grade"):
                gb.update_or_create_grade_cell(
                    gid,
                    notebook_id,
                    lab_id,
                    max_score=float(meta["points"]),
                    cell_type=cell.cell_type,
                )
            if meta.get("solution"):
                gb.update_or_create_solution_cell(gid, notebook_id, lab_id)
            if meta.get("task"):
                gb.update_or_create_task_cell(
                    gid,
                    notebook_id,
                    lab_id,
                    max_score=float(meta["points"]),
                    cell_type=cell.cell_type,
                )
            source, checksum = cell.source, meta.get("checksum")
            if stub_tests and is_test_cell(cell):
                stub = copy.deepcopy(cell)
                stub.source = TEST_STUB
                source, checksum = TEST_STUB, compute_checksum(stub)
            gb.update_or_create_source_cell(
                gid,
                notebook_id,
                lab_id,
                cell_type=cell.cell_type,
                locked=bool(meta.get("locked")),
                source=source,
                checksum=checksum,
            )
    os.replace(tmp, dest)
    stamp.write_text(key.hexdigest())
    return dest


#: What a test cell holds in the grading kernel (see :func:`build_template_gradebook`).
TEST_STUB = (
    "# Test cell: scored by the trusted grader in a separate process (kerascourse grade);\n"
    "# its output in your feedback is the grader's report."
)


def is_test_cell(cell: Any) -> bool:
    """A locked, autograded code cell (nbgrader: grade, not solution): what
    :func:`build_template_gradebook` stubs with :data:`TEST_STUB`."""
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def private_config(info: CourseInfo, rw_dir: Path) -> str:
    """The course's nbgrader config, re-pointed at the private course `rw_dir`."""
    db_url = f"sqlite:///{rw_dir / 'gradebook.db'}"
    lines = [
        info.config_text,
        "",
        "# --- kerascourse grade: private per-submission course (overrides the above) ---",
        f"c.CourseDirectory.root = {str(rw_dir)!r}",
        "c.CourseDirectory.source_directory = 'source'",
        "c.CourseDirectory.submitted_directory = 'submitted'",
        "c.CourseDirectory.autograded_directory = 'autograded'",
        f"c.CourseDirectory.db_url = {db_url!r}",
        f"c.CourseDirectory.course_id = {info.course_id!r}",
        "c.Autograde.create_student = True",
    ]
    return "\n".join(lines) + "\n"
