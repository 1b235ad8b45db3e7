"""Step ``stage``: a private nbgrader course holding only this submission's notebook.

Why: nbgrader's own course holds the gradebook (hidden tests included), the lab sources
and every other student. The private course (``<job_dir>/course``) holds the notebook,
re-serialised by nbformat (never the raw bytes), a copy of the template gradebook made
from the release notebook and the course's config re-pointed at it; the sandbox's uid can
reach it and nothing else.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

from kerascourse.autograder.pipeline.job import Job, Work


def stage(job: Job, work: Work) -> None:
    """Step ``stage``: the private course with only the notebook in it.

    Sets ``work.release``, and ``work.nb`` unless the file is not a readable notebook
    (then the record says so and the steps that run it are skipped).
    """
    import nbformat
    from kerascourse.autograder.pipeline.merge import dedupe_grade_ids, tamper_flags

    out, rw = work.out, work.rw
    work.release = release = nbformat.read(job.release_path, as_version=4)
    raw = Path(job.notebook_path).read_bytes()
    try:
        with warnings.catch_warnings():  # duplicate cell ids: flagged below, fixed on write
            warnings.simplefilter("ignore")
            nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except Exception as exc:  # noqa: BLE001 - any parse error means "not a notebook"
        out.update(status="failed", reason=f"not a readable notebook: {type(exc).__name__}")
        return
    out["flags"] += tamper_flags(nb, release)
    known = {c.metadata["nbgrader"]["grade_id"] for c in release.cells if "nbgrader" in c.metadata}
    staged = dedupe_grade_ids(nb, known)
    if rw.exists():
        shutil.rmtree(rw, ignore_errors=True)
    sub_dir = rw / "submitted" / job.student_id / job.lab_id
    sub_dir.mkdir(parents=True)
    # Re-serialised by nbformat (duplicate cell ids fixed), never the raw bytes.
    (sub_dir / f"{job.notebook_id}.ipynb").write_text(nbformat.writes(staged), encoding="utf-8")
    if job.timestamp:
        (sub_dir / "timestamp.txt").write_text(job.timestamp)
    for name in ("home", "runtime", "tmp", "source"):
        (rw / name).mkdir()
    shutil.copyfile(job.template_db, rw / "gradebook.db")
    (rw / "nbgrader_config.py").write_text(job.nbgrader_config)
    for folder in (rw.parent, rw.parent.parent):
        folder.chmod(0o711)  # the sandbox's uid must reach its course (and nothing else)
    work.nb = nb
