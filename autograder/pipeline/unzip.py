"""Safe extraction of a zip of submissions (an LMS "download all", Colab downloads zipped).

Why hand-written rather than ``ZipFile.extractall``: only notebooks (and nbgrader's
``timestamp.txt``) ever leave the archive, members that would land outside the
extraction folder or are symlinks are rejected, and the total size is capped, each
refusal noted for the instructor. :mod:`kerascourse.autograder.pipeline.collect` then
reads the extracted folder like any other.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import time
import zipfile
from pathlib import Path, PurePosixPath

#: Largest notebook we accept (bytes). Lab notebooks are well under 1 MB when cleared.
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
#: Largest total we extract from one zip (notebooks only).
MAX_ZIP_BYTES = 2 * 1024 * 1024 * 1024
#: Folders never looked into (editor, OS and VCS clutter), in a folder or an archive.
SKIP_DIRS = {".ipynb_checkpoints", "__MACOSX", "__pycache__", ".git"}


def skipped(rel: Path) -> bool:
    """Whether a relative path lies in a skipped or hidden folder (or is hidden itself)."""
    return any(part in SKIP_DIRS or part.startswith(".") for part in rel.parts)


def extract_notebooks(archive: Path, dest: Path, notes: list[str]) -> Path:
    """Extract only the notebooks (and nbgrader timestamps) of `archive`, safely.

    Rejects absolute paths, ``..`` components and symlink members; stops at
    :data:`MAX_ZIP_BYTES` in total. Everything else is only listed in `notes`.
    """
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    total = 0
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            name = info.filename.replace("\\", "/")
            if info.is_dir():
                continue
            pure = PurePosixPath(name)
            if pure.is_absolute() or ".." in pure.parts or re.match(r"^[A-Za-z]:", name):
                notes.append(f"{info.filename} in {archive.name}: unsafe path rejected")
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                notes.append(f"{info.filename} in {archive.name}: symlink rejected")
                continue
            rel = Path(*pure.parts)
            if skipped(rel):
                continue
            if pure.suffix.lower() != ".ipynb" and pure.name != "timestamp.txt":
                notes.append(f"{name} in {archive.name}: not a notebook, ignored")
                continue
            if info.file_size > MAX_NOTEBOOK_BYTES:
                notes.append(f"{name} in {archive.name}: {info.file_size:,} bytes, ignored")
                continue
            total += info.file_size
            if total > MAX_ZIP_BYTES:
                msg = (
                    f"{archive.name} holds more than {MAX_ZIP_BYTES:,} bytes of notebooks; "
                    "split it into smaller archives"
                )
                raise ValueError(msg)
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
            stamp = (*info.date_time, 0, 0, -1)
            mtime = _zip_mtime(stamp)
            os.utime(target, (mtime, mtime))
    return dest


def _zip_mtime(date_time: tuple[int, ...]) -> float:
    try:
        return time.mktime(date_time)  # type: ignore[arg-type]
    except (OverflowError, ValueError):
        return 0.0
