"""``python -m kerascourse.datasets``: list, verify and rebuild the bundled data.

``list`` and ``verify`` use the standard library only, so they work in a bare venv. See
`EXAMPLES` (also shown by ``--help``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ._errors import DataIntegrityError, MissingDataError, UnknownDatasetError, short_hash

EXAMPLES = """examples:
  python -m kerascourse.datasets list
  python -m kerascourse.datasets verify            # every file; exit 1 on the first bad one
  python -m kerascourse.datasets verify digits
  python -m kerascourse.datasets rebuild digits    # rewrites the file and its MANIFEST entry
  python -m kerascourse.datasets rebuild cjk_font --source /path/to/NotoSansCJK-Regular.ttc
  python -m kerascourse.datasets rebuild all
"""


def _out(line: str, err: bool = False) -> None:
    """One line to stdout (or stderr); a function, not print(), so ruff's T20 stays on."""
    (sys.stderr if err else sys.stdout).write(line + "\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m kerascourse.datasets",
        description="List, verify and rebuild the bundled offline datasets.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="show the bundled files with sizes and licences")
    verify = sub.add_parser("verify", help="check SHA256s against MANIFEST.json")
    verify.add_argument("name", nargs="?", help="one bundled file; all when omitted")
    rebuild = sub.add_parser("rebuild", help="rebuild file(s) from source, update MANIFEST.json")
    rebuild.add_argument("name", help="a bundled file's name, or 'all'")
    rebuild.add_argument(
        "--source",
        type=Path,
        help="source file or folder (cjk_font, chinese_reviews, "
        "chinese_stopwords); standard places are searched when omitted",
    )
    return parser


def _list() -> int:
    from ._manifest import manifest

    for e in manifest():
        _out(f"{e.name:<18} {e.kind:<9} {e.size:>11,} B  {e.licence}")
        _out(f"{'':<18} {e.description}")
    return 0


def _verify(name: str | None) -> int:
    from ._manifest import verify

    for e in verify(name):
        _out(f"ok  {e.name:<18} {short_hash(e.sha256)}  {e.path}")
    return 0


def _rebuild(name: str, source: Path | None) -> int:
    from . import build

    if name == "all":
        if source is not None:
            _out("--source needs a single name, e.g. rebuild cjk_font --source PATH", err=True)
            return 2
        entries = build.rebuild_all()
    else:
        entries = [build.rebuild(name, source)]
    for e in entries:
        _out(f"rebuilt  {e.name:<18} {e.size:>11,} B  sha256 {short_hash(e.sha256)}  {e.path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (1 with the message on stderr when a check fails)."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            return _list()
        if args.command == "verify":
            return _verify(args.name)
        return _rebuild(args.name, args.source)
    except (MissingDataError, DataIntegrityError, UnknownDatasetError, ValueError) as err:
        _out(f"{type(err).__name__}: {err}", err=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
