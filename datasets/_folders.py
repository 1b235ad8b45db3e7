"""``image_folder()``: a bundled image zip, extracted once into the cache as PNG folders.

Why a module of its own: extraction needs the download cache (`online.cache_dir`), and
``online`` needs the loaders (`load` is its offline fallback). Keeping the folder code
apart from ``_loaders`` lets both depend on ``_loaders`` without ``_loaders`` depending
back on either (no import circle).

Why the standard library's ``ZipFile.extractall`` behind a path check: ``extractall``
silently rewrites a member such as ``../x.png`` to ``x.png`` instead of refusing it, so
every member name is checked first and an unsafe one is an error, not a quiet rename. The
zip itself was verified against MANIFEST.json before it is opened.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from . import _manifest
from ._errors import UnknownDatasetError, unknown_name_message

#: Marker written last into an extracted image folder: the SHA256 of the zip it came from.
EXTRACTED_MARKER = ".kerascourse-extracted"


def image_folder(name: str) -> Path:
    """The folder of a bundled image dataset, for ``keras.utils.image_dataset_from_directory``.

    The images are bundled as one zip (verified against MANIFEST.json like every file);
    the first call extracts it into ``$KERASCOURSE_DATA`` or ``~/.cache/kerascourse``
    (``folders/<name>-<hash>/``; a temporary folder if that is not writable), later calls
    reuse the extraction after checking that every file is there with its size.

    Args:
        name: a bundled image dataset stored as a folder, i.e. ``"letters"``.

    Returns:
        The dataset's root folder, holding ``train/``, ``val/`` and ``test/``, each with
        one subfolder of PNG images per class (label ``i`` is the i-th class folder in
        sorted order, as in ``load(name).class_names``).

    Raises:
        UnknownDatasetError: `name` is not an image dataset bundled as a folder.
        MissingDataError, DataIntegrityError: the zip is missing or altered.

    Example:
        >>> root = image_folder("letters")
        >>> sorted(p.name for p in root.iterdir())
        ['test', 'train', 'val']
    """
    entries = {e.name: e for e in _manifest.manifest()}
    folders = sorted(
        n for n, e in entries.items() if e.kind == "images" and e.path.endswith(".zip")
    )
    if name not in folders:
        hint = "It is stored as arrays: use load()." if name in entries else ""
        raise UnknownDatasetError(unknown_name_message("image folder", name, folders, hint))
    item = entries[name]
    path = _manifest.check_file(item)
    for parent in _extraction_parents():
        target = parent / f"{name}-{item.sha256[:12]}"
        try:
            return extract_once(path, item.sha256, target)
        except OSError:
            continue
    msg = f"Could not extract {path} into {[str(p) for p in _extraction_parents()]}."
    raise OSError(msg)


def _extraction_parents() -> list[Path]:
    """The cache's ``folders/`` first, then a per-user temporary folder."""
    from .online import cache_dir

    parents = []
    try:
        parents.append(cache_dir() / "folders")
    except (ImportError, OSError, RuntimeError):  # no pooch, no HOME: the temp folder will do
        pass
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    parents.append(Path(tempfile.gettempdir()) / f"kerascourse-{uid}" / "folders")
    return parents


def extract_once(zip_path: Path, sha256: str, target: Path) -> Path:
    """Extract `zip_path` into `target` unless a complete extraction is already there.

    The zip's files land in a temporary sibling of `target` that is renamed into place
    with `EXTRACTED_MARKER` (holding `sha256`) inside, so a crash or a concurrent call
    never leaves a half-extracted folder under the final name.

    Args:
        zip_path: the verified zip, members ``<top>/<split>/<class>/<index>.png``.
        sha256: its manifest hash, recorded in the marker.
        target: the folder to extract into.

    Returns:
        ``target / <top>``, the dataset's root folder.

    Raises:
        ValueError: a member's path is absolute or climbs out of `target` (``..``).
        OSError: `target` cannot be written.
    """
    with zipfile.ZipFile(zip_path) as zf:
        members = [i for i in zf.infolist() if not i.is_dir()]
        check_member_paths(zf, zip_path)
        top = members[0].filename.split("/", 1)[0]
        root = target / top
        if _is_complete(target, members, sha256):
            return root
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            zf.extractall(tmp)
            (tmp / EXTRACTED_MARKER).write_text(sha256, encoding="utf-8")
            if target.exists():  # incomplete or altered: replace it
                shutil.rmtree(target, ignore_errors=True)
            try:
                tmp.rename(target)
            except OSError:  # another process won the race; use its extraction
                if not _is_complete(target, members, sha256):
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return root


def check_member_paths(zf: zipfile.ZipFile, zip_path: Path) -> None:
    """Raise ValueError for a member that would land outside the extraction folder.

    ``ZipFile.extractall`` would rewrite such a member (drop ``/`` and ``..``) rather than
    refuse it; a bundled zip never holds one, so its presence means a tampered file.
    """
    for info in zf.infolist():
        parts = PurePosixPath(info.filename.replace("\\", "/")).parts
        if info.filename.startswith(("/", "\\")) or ".." in parts:
            msg = f"Unsafe path {info.filename!r} in {zip_path}."
            raise ValueError(msg)


def _is_complete(target: Path, members: list[zipfile.ZipInfo], sha256: str) -> bool:
    """Is `target` an extraction of the zip with `sha256`, every file there at its size?"""
    marker = target / EXTRACTED_MARKER
    try:
        if marker.read_text(encoding="utf-8") != sha256:
            return False
        return all((target / i.filename).stat().st_size == i.file_size for i in members)
    except OSError:
        return False
