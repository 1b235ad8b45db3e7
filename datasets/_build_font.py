"""Builder for ``cjk_font``: a subset of Noto Sans CJK SC Regular (SIL OFL 1.1).

Why a subset: the full face is 16 MB of a 19 MB collection; the course needs the
characters of its own Chinese text plus what a learner is likely to type. So the subset
keeps every character of the bundled reviews and stop words (checked: a character the
source lacks stops the build), ASCII, Latin-1, general and CJK punctuation, full-width
forms and the 3,755 level-1 hanzi of GB2312. It drops hinting (matplotlib and
wordcloud render through FreeType's auto-hinter) and the ``locl`` feature (the JP, KR
and TC glyph variants), which roughly halves the file. Outlines stay CFF: matplotlib
(PNG, PDF, SVG), Pillow and wordcloud all read it.

fontTools is told not to touch the ``head`` timestamps, so the same source gives the
same bytes.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
from pathlib import Path

from ._build_common import Built
from ._errors import MissingDataError, short_hash

FAMILIES = ("Noto Sans CJK SC", "Noto Sans SC")
SOURCE_FILES = ("NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf", "NotoSansSC-Regular.otf")
LICENCE_FILE = "data/licences/NotoSansCJK-OFL-1.1.txt"
#: Name records kept: family, style, version, copyright, trademark, designer, licence...
NAME_IDS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14]
EXTRA_RANGES = (
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1 (°, ×, ·, ...)
    (0x2010, 0x2027),  # dashes, quotes, ellipsis
    (0x2030, 0x203B),  # per mille, primes, reference mark
    (0x2212, 0x2212),  # minus sign
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0xFF01, 0xFF65),  # full-width ASCII, half-width CJK punctuation
    (0xFFE0, 0xFFE6),  # full-width currency and signs
)


def font_dirs() -> list[Path]:
    """The usual system and user font folders of Linux, macOS and Windows."""
    home = Path.home()
    dirs = [
        Path("/usr/share/fonts"),
        Path("/usr/local/share/fonts"),
        home / ".local/share/fonts",
        home / ".fonts",
        Path("/Library/Fonts"),
        Path("/System/Library/Fonts"),
        home / "Library/Fonts",
    ]
    if sys.platform == "win32":
        dirs.append(Path(os.environ.get("WINDIR", r"C:\Windows")) / "Fonts")
    return dirs


def find_source(source: Path | None) -> Path:
    """`source` if given, else the first Noto Sans CJK Regular found in `font_dirs()`."""
    hint = (
        "Install it (Debian/Ubuntu: sudo apt install fonts-noto-cjk; Fedora: sudo dnf install "
        "google-noto-sans-cjk-fonts; macOS: brew install --cask font-noto-sans-cjk) or download "
        "NotoSansCJK-Regular.ttc from https://github.com/notofonts/noto-cjk, then run: "
        "python -m kerascourse.datasets rebuild cjk_font --source PATH"
    )
    if source is not None:
        if not source.is_file():
            msg = f"The source font {source} does not exist. {hint}"
            raise MissingDataError(msg)
        return source
    for folder in font_dirs():
        if folder.is_dir():
            for name in SOURCE_FILES:
                found = sorted(folder.rglob(name))
                if found:
                    return found[0]
    msg = (
        f"cjk_font is a subset of Noto Sans CJK SC Regular (SIL OFL 1.1), and none of "
        f"{list(SOURCE_FILES)} is in {[str(d) for d in font_dirs()]}. {hint}"
    )
    raise MissingDataError(msg)


def _face(path: Path) -> tuple[int, str, str]:
    """Index, family and version of the Simplified Chinese Regular face in `path`."""
    from fontTools.ttLib import TTCollection, TTFont

    if path.suffix.lower() in {".ttc", ".otc"}:
        faces = TTCollection(str(path), lazy=True).fonts
    else:
        faces = [TTFont(str(path), lazy=True)]
    seen = []
    for index, face in enumerate(faces):
        names = face["name"]
        family = names.getDebugName(16) or names.getDebugName(1)
        style = names.getDebugName(17) or names.getDebugName(2)
        seen.append(f"{family} {style}")
        if family in FAMILIES and style == "Regular":
            return index, family, (names.getDebugName(5) or "?").split(";")[0]
    msg = f"{path} has no {' / '.join(FAMILIES)} Regular face; it has {seen}."
    raise ValueError(msg)


def gb2312_level1() -> set[int]:
    """The 3,755 level-1 (common) hanzi of GB2312: rows 16-55, decoded by Python's codec."""
    out = set()
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            try:
                out.add(ord(bytes([hi, lo]).decode("gb2312")))
            except UnicodeDecodeError:  # row 55 ends at 0xD7F9
                pass
    return out


def bundled_text_codepoints(root: Path) -> set[int]:
    """Every character of the bundled reviews and stop words (verified files), minus controls."""
    from ._formats import read_reviews
    from ._manifest import verified_path

    text = "".join(t for _, _, t in read_reviews(verified_path("chinese_reviews", root)))
    text += verified_path("chinese_stopwords", root).read_text(encoding="utf-8")
    return {ord(c) for c in text if c not in "\n\t\r"}


def build_cjk_font(root: Path, source: Path | None) -> Built:
    """Subset the source face to the bundled text plus `EXTRA_RANGES` and GB2312 level 1."""
    import fontTools
    from fontTools import subset

    path = find_source(source)
    index, family, version = _face(path)
    required = bundled_text_codepoints(root)
    wanted = required | gb2312_level1()
    for lo, hi in EXTRA_RANGES:
        wanted.update(range(lo, hi + 1))

    options = subset.Options()
    options.font_number = index
    options.hinting = False
    options.layout_features = [f for f in options.layout_features if f != "locl"]
    options.name_IDs = NAME_IDS
    options.recalc_timestamp = False
    font = subset.load_font(str(path), options)
    cmap = font.getBestCmap()
    missing = sorted(chr(c) for c in required - cmap.keys())
    if missing:
        msg = (
            f"{path} ({family}) lacks {len(missing)} characters of the bundled text: {missing[:20]}"
        )
        raise ValueError(msg)
    unicodes = sorted(wanted & cmap.keys())
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=unicodes)
    subsetter.subset(font)
    buf = io.BytesIO()
    subset.save_font(font, buf, options)
    glyphs = len(font.getGlyphOrder())
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Built(
        data=buf.getvalue(),
        description=(
            f"Subset of {family} Regular (OpenType/CFF, family name '{family}'): {glyphs:,} glyphs "
            f"for {len(unicodes):,} code points -- all {len(required):,} characters of the "
            "bundled Chinese reviews and stop words, ASCII, Latin-1, punctuation, full-width "
            "forms and the 3,755 GB2312 level-1 hanzi. For matplotlib (use_cjk_font()), "
            "Pillow and wordcloud (cjk_font_path())."
        ),
        source=(
            f"{path.name} face {index} ({family} {version}, sha256 {short_hash(digest)}) of "
            "Noto CJK (https://github.com/notofonts/noto-cjk; Debian: fonts-noto-cjk), subset "
            f"with fontTools {fontTools.version}"
        ),
    )
