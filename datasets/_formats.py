"""Byte-for-byte reproducible file formats for the bundle, and their readers.

Why not ``np.savez_compressed``: it stamps the current time into every zip member, so the
same data gives a different SHA256 on every build. Here:

- ``.npz`` is written member by member with a fixed 1980-01-01 timestamp, fixed
  permissions and *no* compression (``ZIP_STORED``). Deflate output depends on the zlib
  build (zlib-ng, shipped by some distributions, compresses differently), stored bytes do
  not; git and wheels compress the files anyway. ``np.load`` reads the result as usual.
- text is gzip'd with ``mtime=0`` and no file name in the header. Its bytes are stable for
  a given zlib (the classic zlib 1.2/1.3 has produced the same stream for years).

Writes go to a temporary file that is moved into place, so a crash never leaves half a
file under the final name.
"""

from __future__ import annotations

import gzip
import io
import os
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

#: The fixed timestamp of every zip member the bundle writes (zip cannot store an earlier one).
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
REVIEWS_HEADER = "split\tlabel\ttext"


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    os.chmod(path, 0o644)


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """An ``.npz`` archive of `arrays` (in insertion order) with no timestamps, uncompressed."""
    import numpy as np

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for key, value in arrays.items():
            arr = np.ascontiguousarray(value)
            if arr.dtype.byteorder == ">":
                arr = arr.astype(arr.dtype.newbyteorder("<"))
            info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3  # "Unix" on every platform, or the bytes differ on Windows
            info.external_attr = 0o644 << 16
            with zf.open(info, "w") as fh:
                np.lib.format.write_array(fh, arr, allow_pickle=False)
    return buf.getvalue()


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` file, loaded into memory (no pickles allowed)."""
    import numpy as np

    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def gzip_bytes(data: bytes) -> bytes:
    """`data` gzip'd at level 9 with ``mtime=0`` and an empty file name: reproducible."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return buf.getvalue()


def reviews_bytes(rows: Iterable[tuple[str, int, str]]) -> bytes:
    """Gzip'd UTF-8 TSV with a header: ``split<TAB>label<TAB>text``, one review per line."""
    lines = [REVIEWS_HEADER]
    for split, label, text in rows:
        if "\t" in text or "\n" in text or "\r" in text:
            msg = f"Review text must not contain tabs or line breaks. Received: {text[:60]!r}"
            raise ValueError(msg)
        lines.append(f"{split}\t{label}\t{text}")
    return gzip_bytes(("\n".join(lines) + "\n").encode("utf-8"))


def read_reviews(path: Path) -> list[tuple[str, int, str]]:
    """Rows ``(split, label, text)`` of a file written by `reviews_bytes`."""
    with gzip.open(path, "rb") as fh:
        text = fh.read().decode("utf-8")
    lines = text.split("\n")
    if lines[0] != REVIEWS_HEADER:
        msg = f"{path} does not start with the header {REVIEWS_HEADER!r}; got {lines[0][:60]!r}."
        raise ValueError(msg)
    rows = []
    for line in lines[1:]:
        if line:
            split, label, review = line.split("\t", 2)
            rows.append((split, int(label), review))
    return rows
