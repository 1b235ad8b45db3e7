"""The results store: one JSON file per student and lab, the commit record of grading.

Why a store beside nbgrader's gradebook: grading is parallel and may be killed at any
moment, so the pipeline needs a record that says "this exact notebook (sha256) is
graded and merged" and that is written atomically (temp file, fsync, ``os.replace``).
A re-run skips every student whose record matches the notebook's sha256; a new notebook
from the same student replaces the record. A record is written only *after* the
gradebook merge, so a kill between the two re-grades that student on the next run and
the merge (an update, never an insert of a second submission) stays idempotent.

Layout: ``<course>/.kerascourse/results/<lab_id>/<student_id>.json``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Statuses that end a student's grading (anything else is graded again on a re-run).
FINAL_STATUSES = ("graded", "failed", "crashed")


class ResultsStore:
    """Atomic per-student JSON records for one lab of one course.

    Args:
        course_dir: the nbgrader course folder.
        lab_id: the lab (nbgrader assignment id).
    """

    def __init__(self, course_dir: str | Path, lab_id: str) -> None:
        self.course_dir = Path(course_dir)
        self.lab_id = lab_id

    @property
    def folder(self) -> Path:
        """Where the records live (created on first write)."""
        return self.course_dir / ".kerascourse" / "results" / self.lab_id

    def path(self, student_id: str) -> Path:
        """The record file of one student."""
        if not student_id or "/" in student_id or student_id in {".", ".."}:
            msg = f"Invalid student id {student_id!r}: it must be a plain folder name."
            raise ValueError(msg)
        return self.folder / f"{student_id}.json"

    def get(self, student_id: str) -> dict[str, Any] | None:
        """The record of a student, or None (missing or unreadable: graded again)."""
        try:
            return json.loads(self.path(student_id).read_text())
        except (OSError, ValueError):
            return None

    def is_done(self, student_id: str, sha256: str) -> bool:
        """Whether this exact notebook of this student is graded and merged."""
        record = self.get(student_id)
        return bool(
            record
            and record.get("sha256") == sha256
            and record.get("status") in FINAL_STATUSES
            and record.get("merged") is True
        )

    def put(self, record: dict[str, Any]) -> Path:
        """Write a student's record atomically (temp file in the same folder + os.replace).

        The record must hold ``student_id`` and ``sha256``. Returns the record's path.
        """
        for key in ("student_id", "sha256"):
            if not record.get(key):
                msg = f"A results record needs {key!r}; got keys {sorted(record)}."
                raise ValueError(msg)
        target = self.path(record["student_id"])
        target.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps({"lab_id": self.lab_id, **record}, indent=2, sort_keys=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)
        return target

    def records(self) -> Iterator[dict[str, Any]]:
        """Every readable record, sorted by student id."""
        if not self.folder.is_dir():
            return
        for path in sorted(self.folder.glob("*.json")):
            try:
                yield json.loads(path.read_text())
            except (OSError, ValueError):
                continue

    def clean_partial(self) -> int:
        """Delete temp files left by a killed run; returns how many."""
        count = 0
        if self.folder.is_dir():
            for tmp in self.folder.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)
                count += 1
        return count


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (POSIX: fsync the directory)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
