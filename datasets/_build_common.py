"""What every builder shares: its result type and the split names."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Built:
    """What a builder produced; nothing is written until `build.rebuild` writes it.

    Attributes:
        data: the file's bytes, reproducible for the same sources and library versions.
        description: for MANIFEST.json, with the counts that came out of the build.
        source: where the data came from, with versions.
        extra_files: other files to write (licence texts), bundle-relative path -> bytes.
    """

    data: bytes
    description: str
    source: str
    extra_files: dict[str, bytes] = field(default_factory=dict)


def no_source(name: str, source: Path | None) -> None:
    """Refuse ``--source`` for builders whose source is an installed library."""
    if source is not None:
        msg = (
            f"{name!r} is built from the installed scikit-learn; --source is not used. "
            f"Received: --source {source}. Run without it: "
            f"python -m kerascourse.datasets rebuild {name}"
        )
        raise ValueError(msg)
