"""MANIFEST.json: the one registry of bundled files, and their verification.

Why: every bundled file is trusted only after its SHA256 matches the manifest (the pooch
rule, "verify before trusting"), so a half-copied wheel or an edited file fails loudly with
the command that fixes it instead of as a ``BadZipFile`` deep inside numpy. Hashing a
few MB costs tens of milliseconds, so a file verified once per process is remembered,
keyed by (path, size, mtime, expected hash): touching or replacing it re-checks it.

Standard library only: ``python -m kerascourse.datasets verify`` runs in a bare venv.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ._errors import (
    DataIntegrityError,
    MissingDataError,
    UnknownDatasetError,
    short_hash,
    unknown_name_message,
)

MANIFEST_NAME = "MANIFEST.json"
#: Test seam: a directory holding a MANIFEST.json and the data/ folder it describes.
#: Only the tests (a corrupted copy in tmp) and rebuilds into a scratch folder set it.
BUNDLE_ENV = "KERASCOURSE_BUNDLE_DIR"
#: Kinds that ``load()`` returns as a Dataset; the other kinds are resources.
DATASET_KINDS = ("images", "text", "tabular")

_VERIFIED: set[tuple[str, int, int, str]] = set()


@dataclass(frozen=True)
class ManifestEntry:
    """One bundled file: where it is, what it must hash to, where it came from.

    Attributes:
        name: registry name, e.g. ``"digits"``.
        kind: ``"images"``, ``"text"``, ``"tabular"`` (datasets) or ``"wordlist"``,
            ``"font"`` (resources).
        path: POSIX path relative to the bundle root, e.g. ``"data/digits.npz"``.
        sha256: hex digest of the file.
        size: size in bytes.
        description: what is in the file, with counts.
        source: where the data comes from, with versions.
        licence: the licence(s) of the data, in words.
        licence_files: licence texts shipped next to the data (paths like `path`).
        rebuild: the exact command that rebuilds the file.
    """

    name: str
    kind: str
    path: str
    sha256: str
    size: int
    description: str
    source: str
    licence: str
    licence_files: tuple[str, ...]
    rebuild: str

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ManifestEntry:
        """Build an entry from its JSON form; a missing key is a broken manifest."""
        missing = [f for f in cls.__dataclass_fields__ if f not in raw]
        if missing:
            msg = (
                f"{MANIFEST_NAME} entry {raw.get('name', '?')!r} lacks {missing}. "
                "Regenerate it with: python -m kerascourse.datasets rebuild all"
            )
            raise DataIntegrityError(msg)
        fields = {f: raw[f] for f in cls.__dataclass_fields__}
        fields["licence_files"] = tuple(fields["licence_files"])
        fields["size"] = int(fields["size"])
        return cls(**fields)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, keys in field order (so MANIFEST.json diffs stay small)."""
        out = asdict(self)
        out["licence_files"] = list(self.licence_files)
        return out

    def file(self, root: Path | None = None) -> Path:
        """Absolute path of the file under `root`. Defaults to `bundle_root()`."""
        return (root or bundle_root()) / self.path


def bundle_root() -> Path:
    """The folder holding MANIFEST.json and data/: the package, or ``$KERASCOURSE_BUNDLE_DIR``."""
    override = os.environ.get(BUNDLE_ENV)
    return Path(override) if override else Path(__file__).resolve().parent


def manifest(root: Path | None = None) -> list[ManifestEntry]:
    """All bundled files, in MANIFEST.json order.

    Args:
        root: bundle folder. Defaults to `bundle_root()`.
    """
    root = root or bundle_root()
    path = root / MANIFEST_NAME
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = (
            f"{MANIFEST_NAME} is missing: {path}. The kerascourse installation is incomplete; "
            "reinstall it (pip install -e .) or rebuild the bundle with: "
            "python -m kerascourse.datasets rebuild all"
        )
        raise MissingDataError(msg) from None
    except json.JSONDecodeError as err:
        msg = (
            f"{path} is not valid JSON ({err}). Restore it from git (git checkout -- {path}) "
            "or rebuild it with: python -m kerascourse.datasets rebuild all"
        )
        raise DataIntegrityError(msg) from None
    return [ManifestEntry.from_dict(item) for item in raw]


def entry(name: str, root: Path | None = None) -> ManifestEntry:
    """The manifest entry called `name`; an unknown name lists the valid ones."""
    entries = {e.name: e for e in manifest(root)}
    if name not in entries:
        raise UnknownDatasetError(unknown_name_message("bundled file", name, entries))
    return entries[name]


def sha256_file(path: Path) -> str:
    """Hex SHA256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_file(item: ManifestEntry, root: Path | None = None) -> Path:
    """Return the verified path of `item`'s file; raise if it is missing or altered.

    Raises:
        MissingDataError: the file does not exist.
        DataIntegrityError: its size or SHA256 differs from the manifest.
    """
    path = item.file(root)
    try:
        stat = path.stat()
    except FileNotFoundError:
        msg = (
            f"Bundled file for {item.name!r} is missing: {path} "
            f"(expected sha256 {short_hash(item.sha256)}). Reinstall kerascourse "
            f"(pip install -e .) or rebuild it with: {item.rebuild}"
        )
        raise MissingDataError(msg) from None
    key = (str(path), stat.st_size, stat.st_mtime_ns, item.sha256)
    if key in _VERIFIED:
        return path
    got = sha256_file(path)
    if got != item.sha256 or stat.st_size != item.size:
        sizes = (
            ""
            if stat.st_size == item.size
            else f" (size {stat.st_size:,} bytes, expected {item.size:,})"
        )
        msg = (
            f"SHA256 of '{path}' does not match {MANIFEST_NAME}: expected "
            f"{short_hash(item.sha256)}, got {short_hash(got)}{sizes}. The file may be "
            f"corrupted or partly written. Rebuild it with: {item.rebuild}"
        )
        raise DataIntegrityError(msg)
    _VERIFIED.add(key)
    return path


def verified_path(name: str, root: Path | None = None) -> Path:
    """Path of the bundled file `name`, checked against the manifest."""
    return check_file(entry(name, root), root)


def verify(name: str | None = None) -> list[ManifestEntry]:
    """Check the SHA256 of one bundled file, or of all of them.

    Args:
        name: a manifest name (see `manifest()`), or None for every file.
            Defaults to `None`.

    Returns:
        The entries that were checked, all of them good.

    Raises:
        MissingDataError, DataIntegrityError: on the first bad file, naming the rebuild
            command.

    Example:
        >>> [e.name for e in verify("digits")]
        ['digits']
    """
    entries = manifest() if name is None else [entry(name)]
    for item in entries:
        check_file(item)
    return entries
