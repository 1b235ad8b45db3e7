"""Find whose notebook is whose in a folder or zip of submissions.

Why a module: instructors get submissions in three shapes (nbgrader's exchange, a folder
of downloads, a zip from an LMS or Colab) and the rest of the pipeline should see one:
a list of :class:`Submission` (student id, notebook file, sha256). Only notebooks are
ever taken: a ``numpy.py`` or a data file handed in next to a notebook is noted and left
behind, so it can never shadow a library in the grading kernel.

Accepted layouts (``SUBMISSIONS`` argument of ``kerascourse grade``):

1. nbgrader: ``submitted/<student>/<lab>/<notebook>.ipynb`` (pass the ``submitted``
   folder or the course folder holding it). The student id is the folder name.
2. A folder: loose notebooks (``<name>.ipynb``, the id comes from the file name) and/or
   one folder per student (``<name>/<anything>.ipynb``, the id comes from the folder).
3. A ``.zip`` of either of the above (an LMS "download all", Colab downloads zipped).
   A single wrapping folder is skipped; members that would land outside the extraction
   folder (``../x``, absolute paths) or are symlinks are rejected with a note
   (:mod:`kerascourse.autograder.pipeline.unzip`).

Student ids from names (file stem or folder name), first rule that matches:

- Moodle: ``Jane Doe_12345_assignsubmission_file_...`` -> ``jane_doe_12345``.
- Canvas: ``doejane_12345_67890_lab01_functional_api.ipynb`` (also ``doejane_late_...``)
  -> ``doejane_12345``.
- Otherwise: the name without the lab id, ``Copy of``, and copy suffixes such as
  ``(1)`` or ``-2``: ``alice_lab01_functional_api.ipynb`` -> ``alice``.

Then the id is lower-cased and every character outside ``[a-z0-9_.-]`` becomes ``_``.
A notebook whose name is only the lab id (``lab01_functional_api.ipynb``) needs a
per-student folder. Two notebooks for one student: the newest (by file time) is graded
and the submission is flagged ``two_notebooks``.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from kerascourse.autograder.pipeline.unzip import (
    MAX_NOTEBOOK_BYTES,
    SKIP_DIRS,
    extract_notebooks,
    skipped,
)

ACCEPTED_LAYOUTS = (
    "Accepted layouts: (1) nbgrader's submitted/<student>/<lab>/<notebook>.ipynb; "
    "(2) a folder of notebooks named after students (alice_<lab>.ipynb, Canvas "
    "doejane_12345_..._<lab>.ipynb, Moodle 'Jane Doe_12345_assignsubmission_file_...') "
    "or one folder per student holding a notebook; (3) a .zip of either."
)

_MOODLE = re.compile(r"^(?P<who>.+?_\d+)_assign(?:submission|feedback)_", re.IGNORECASE)
_CANVAS = re.compile(r"^(?P<name>[a-z][a-z-]*)_(?:late_)?(?P<uid>\d+)_(?:\d+_)?", re.IGNORECASE)
_COPY_SUFFIX = re.compile(r"(\s*\(\d+\)|-\d+|\s+copy)$", re.IGNORECASE)
_SAFE_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


@dataclass(frozen=True)
class Submission:
    """One student's notebook, ready to stage.

    Attributes:
        student_id: nbgrader student id (safe as a folder name).
        path: a readable regular file holding the notebook.
        sha256: hex digest of the notebook's bytes (the results store's key).
        origin: where it came from, for messages (``"alice_lab01.ipynb in class.zip"``).
        timestamp: nbgrader's ``timestamp.txt`` content when present.
        flags: tampering or collection problems the instructor should look at.
        notes: plain remarks (ignored files, renamed ids).
    """

    student_id: str
    path: Path
    sha256: str
    origin: str
    timestamp: str | None = None
    flags: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass
class Collection:
    """Everything found: submissions (sorted by id), the layout, and notes for the summary."""

    layout: str
    submissions: list[Submission] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def by_student(self) -> dict[str, Submission]:
        """Submissions keyed by student id."""
        return {s.student_id: s for s in self.submissions}


@dataclass
class _Candidate:
    student_id: str
    path: Path
    origin: str
    mtime: float
    timestamp: str | None = None
    notes: list[str] = field(default_factory=list)


def normalize_id(raw: str) -> str:
    """Lower-case `raw` and replace anything outside ``[a-z0-9_.-]`` with ``_``."""
    text = re.sub(r"[^a-z0-9_.-]+", "_", raw.strip().lower())
    text = re.sub(r"_+", "_", text).strip("_.-")
    return text


def student_id_from_name(name: str, lab_id: str) -> str | None:
    """The student id a file or folder name stands for, or None when it names no one.

    Args:
        name: a file stem or folder name, e.g. ``"doejane_12345_67890_lab01_functional_api"``.
        lab_id: the lab being graded; it is removed from generic names.

    Example:
        >>> student_id_from_name("alice_lab01_functional_api", "lab01_functional_api")
        'alice'
        >>> student_id_from_name("Jane Doe_12345_assignsubmission_file_", "lab01")
        'jane_doe_12345'
    """
    stem = name[:-6] if name.lower().endswith(".ipynb") else name
    moodle = _MOODLE.match(stem)
    if moodle:
        return normalize_id(moodle["who"]) or None
    canvas = _CANVAS.match(stem)
    if canvas:
        return normalize_id(f"{canvas['name']}_{canvas['uid']}") or None
    text = _COPY_SUFFIX.sub("", stem)
    text = re.sub(r"^copy of\s+", "", text, flags=re.IGNORECASE)
    short = lab_id.split("_", 1)[0]  # "lab01" from "lab01_functional_api"
    lowered = text.lower()
    for token in (lab_id.lower(), short.lower()):
        lowered = lowered.replace(token, " ")
    result = normalize_id(lowered)
    return result or None


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def collect_submissions(source: str | Path, lab_id: str, work_dir: str | Path) -> Collection:
    """Find every student's notebook for `lab_id` under `source` (folder or zip).

    Args:
        source: nbgrader ``submitted/`` folder (or the course folder holding it), a folder
            of notebooks, or a ``.zip``.
        lab_id: the lab (nbgrader assignment id), e.g. ``"lab01_functional_api"``.
        work_dir: where a zip's notebooks are extracted (created if needed).

    Raises:
        FileNotFoundError: `source` does not exist.
        ValueError: no notebook was found; the message lists the accepted layouts.
    """
    source = Path(source).expanduser()
    if not source.exists():
        msg = f"Submissions not found: {source} does not exist. {ACCEPTED_LAYOUTS}"
        raise FileNotFoundError(msg)
    notes: list[str] = []
    if source.is_file():
        if not zipfile.is_zipfile(source):
            msg = (
                f"{source.name} is a file but not a zip archive. Pass a folder or a .zip. "
                f"{ACCEPTED_LAYOUTS}"
            )
            raise ValueError(msg)
        root = extract_notebooks(source, Path(work_dir) / "unzipped", notes)
        origin_suffix = f" in {source.name}"
        layout = "zip"
    else:
        root = source
        origin_suffix = ""
        layout = "folder"

    root = _unwrap(root, lab_id)
    nbgrader_root = _nbgrader_root(root, lab_id)
    if nbgrader_root is not None:
        candidates = _from_nbgrader(nbgrader_root, lab_id, notes, origin_suffix)
        layout = "nbgrader" if layout == "folder" else f"{layout} (nbgrader layout)"
    else:
        candidates = _from_folder(root, lab_id, notes, origin_suffix)

    if not candidates:
        msg = f"No notebooks for lab {lab_id!r} found in {source}. {ACCEPTED_LAYOUTS}"
        if notes:
            msg += " Notes: " + "; ".join(notes[:5])
        raise ValueError(msg)
    return Collection(layout=layout, submissions=_resolve(candidates, notes), notes=notes)


def _unwrap(root: Path, lab_id: str) -> Path:
    """Skip single wrapping folders (``class.zip`` -> ``class/``) with nothing beside them.

    A lone folder is kept when it looks like one student's folder (no sub-folders and at
    most one notebook), because then its name is the student id.
    """
    for _ in range(3):
        if _nbgrader_root(root, lab_id) is not None:
            return root
        entries = _visible(root)
        if len(entries) != 1 or not entries[0].is_dir() or entries[0].is_symlink():
            break
        inner = _visible(entries[0])
        if any(e.is_dir() for e in inner) or sum(e.suffix == ".ipynb" for e in inner) > 1:
            root = entries[0]
            continue
        break
    return root


def _visible(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name not in SKIP_DIRS and not p.name.startswith(".")]


def _nbgrader_root(root: Path, lab_id: str) -> Path | None:
    """The folder holding ``<student>/<lab_id>/`` folders, if this is nbgrader's layout."""
    for base in (root / "submitted", root):
        if base.is_dir() and any(
            (d / lab_id).is_dir() for d in base.iterdir() if d.is_dir() and not d.is_symlink()
        ):
            return base
    return None


def _from_nbgrader(base: Path, lab_id: str, notes: list[str], suffix: str) -> list[_Candidate]:
    found = []
    for student_dir in sorted(p for p in base.iterdir() if p.is_dir()):
        lab_dir = student_dir / lab_id
        if not lab_dir.is_dir():
            continue
        sid = student_dir.name
        if not _SAFE_ID.match(sid):
            new = normalize_id(sid)
            notes.append(f"student folder {sid!r} renamed to id {new!r}")
            sid = new
        stamp_file = lab_dir / "timestamp.txt"
        stamp = stamp_file.read_text().strip() if _is_plain_file(stamp_file) else None
        for path in sorted(lab_dir.rglob("*")):
            rel = path.relative_to(base)
            if skipped(rel) or path.is_dir() or path.name == "timestamp.txt":
                continue
            if not _acceptable(path, rel, notes, suffix):
                continue
            found.append(_Candidate(sid, path, f"{rel}{suffix}", path.stat().st_mtime, stamp))
    return found


def _from_folder(root: Path, lab_id: str, notes: list[str], suffix: str) -> list[_Candidate]:
    found = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if skipped(rel) or (path.is_dir() and not path.is_symlink()):
            continue
        if not _acceptable(path, rel, notes, suffix):
            continue
        if len(rel.parts) == 1:
            sid = student_id_from_name(path.stem, lab_id)
            if sid is None:
                notes.append(
                    f"{rel}{suffix}: cannot tell whose notebook this is (its name is only the "
                    "lab id); put it in a folder named after the student"
                )
                continue
        else:
            sid = student_id_from_name(rel.parts[0], lab_id)
            if sid is None:
                notes.append(f"{rel}{suffix}: folder {rel.parts[0]!r} names no student; skipped")
                continue
        found.append(_Candidate(sid, path, f"{rel}{suffix}", path.stat().st_mtime))
    return found


def _is_plain_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _acceptable(path: Path, rel: Path, notes: list[str], suffix: str) -> bool:
    """Only regular ``.ipynb`` files under the size limit; everything else gets a note."""
    if path.is_symlink():
        notes.append(f"{rel}{suffix}: a symlink, ignored (only regular files are graded)")
        return False
    if path.suffix.lower() != ".ipynb":
        notes.append(f"{rel}{suffix}: not a notebook, ignored (never copied to grading)")
        return False
    if not _is_plain_file(path):
        notes.append(f"{rel}{suffix}: not a regular file, ignored")
        return False
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        notes.append(
            f"{rel}{suffix}: {size:,} bytes, over the {MAX_NOTEBOOK_BYTES:,}-byte limit; "
            "ignored (clear the outputs and resubmit)"
        )
        return False
    return True


def _resolve(candidates: list[_Candidate], notes: list[str]) -> list[Submission]:
    """One submission per student; flag students with more than one notebook."""
    by_id: dict[str, list[_Candidate]] = {}
    for cand in candidates:
        by_id.setdefault(cand.student_id, []).append(cand)
    out = []
    for sid in sorted(by_id):
        group = sorted(by_id[sid], key=lambda c: (c.mtime, c.origin))
        chosen = group[-1]
        flags: tuple[str, ...] = ()
        sub_notes: tuple[str, ...] = ()
        if len(group) > 1:
            others = ", ".join(c.origin for c in group[:-1])
            flags = ("two_notebooks",)
            sub_notes = (
                f"{len(group)} notebooks for {sid}: graded {chosen.origin}; ignored {others}",
            )
            notes.append(sub_notes[0])
        out.append(
            Submission(
                student_id=sid,
                path=chosen.path,
                sha256=sha256_file(chosen.path),
                origin=chosen.origin,
                timestamp=chosen.timestamp,
                flags=flags,
                notes=sub_notes,
            )
        )
    return out
