"""The bundled Chinese font, for matplotlib labels and word clouds.

Why bundle one: matplotlib's default DejaVu Sans has no CJK glyphs, so Chinese titles come
out as boxes with a "Glyph ... missing from font(s) DejaVu Sans" warning, and Colab and
Binder images ship no CJK font at all. The bundle holds a subset of Noto Sans CJK SC
(SIL OFL 1.1) covering every character of the bundled Chinese text, ASCII, CJK
punctuation and the 3,755 common (GB2312 level-1) hanzi.
"""

from __future__ import annotations

from pathlib import Path

from . import _manifest

FONT_NAME = "cjk_font"


def cjk_font_path() -> Path:
    """Path of the bundled CJK font (an OpenType file), checked against MANIFEST.json.

    Use it wherever a font file is wanted, e.g.
    ``WordCloud(font_path=str(cjk_font_path()))`` or ``PIL.ImageFont.truetype(...)``.

    Raises:
        MissingDataError: the font is not there; the message names
            ``python -m kerascourse.datasets rebuild cjk_font``.
        DataIntegrityError: the file is altered.
    """
    return _manifest.verified_path(FONT_NAME)


def use_cjk_font() -> str:
    """Make matplotlib draw Chinese text with the bundled font; return its family name.

    Registers the font with ``font_manager.fontManager.addfont``, puts its family first in
    ``rcParams["font.sans-serif"]``, sets ``font.family`` to ``sans-serif`` and turns off
    ``axes.unicode_minus`` (the font's minus sign would otherwise be looked up as U+2212).
    Calling it twice is harmless.

    Example:
        >>> family = use_cjk_font()
        >>> family
        'Noto Sans CJK SC'
    """
    from matplotlib import font_manager, rcParams

    path = str(cjk_font_path())
    manager = font_manager.fontManager
    if path not in {f.fname for f in manager.ttflist}:
        manager.addfont(path)
        # Forget lookups made before the font existed (they fell back to DejaVu Sans).
        cached = getattr(manager, "_findfont_cached", None)
        if cached is not None and hasattr(cached, "cache_clear"):
            cached.cache_clear()
    family = font_manager.FontProperties(fname=path).get_name()
    rcParams["font.sans-serif"] = [family, *(f for f in rcParams["font.sans-serif"] if f != family)]
    rcParams["font.family"] = "sans-serif"
    rcParams["axes.unicode_minus"] = False
    return family
