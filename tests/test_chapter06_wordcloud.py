"""Chapter 6's word cloud: does the bundled font have a glyph for every character it draws?

wordcloud draws with one font file and no fallback, so a character missing from the font
comes out as an empty box. Instead of executing the whole notebook (a minute, TensorFlow
included), these tests take the notebook's own definitions -- its helper functions, its
constants and the assignments that lead to ``cloud_words`` -- out of the .ipynb with `ast`,
run them on the same FAST subset, and look every character up in the font's cmap.
"""

from __future__ import annotations

import ast
import logging
import warnings
from collections import Counter
from pathlib import Path

import nbformat
import numpy as np
import pytest

from kerascourse import datasets, settings

NOTEBOOK = Path(__file__).resolve().parents[1] / "chapters" / "06_sentiment_lstm.ipynb"
#: Functions and constants the word cloud depends on, taken from the notebook.
DEFINITIONS = {"segment", "content_words", "word_counts", "make_cloud", "drawn_words",
               "STOPWORDS", "FONT_PATH", "MAX_CLOUD_WORDS"}  # fmt: skip
#: The assignments from the data to the cloud, in notebook order.
STEPS = {"data", "x_train", "y_train", "train_tokens", "counts", "clouds", "cloud_words"}
#: U+9F98, a real hanzi outside GB2312 level 1 and absent from the bundled reviews.
NOT_IN_FONT = "龘"


def _assigned_names(node: ast.stmt) -> set[str]:
    if not isinstance(node, ast.Assign):
        return set()
    names = set()
    for target in node.targets:
        elements = target.elts if isinstance(target, ast.Tuple) else [target]
        names |= {e.id for e in elements if isinstance(e, ast.Name)}
    return names


def _notebook_statements() -> list[ast.stmt]:
    """The notebook's top-level definitions and steps that the word cloud needs, in order."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    wanted = DEFINITIONS | STEPS
    keep = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.parse(cell.source).body:
            defines = {node.name} if isinstance(node, ast.FunctionDef) else _assigned_names(node)
            if defines & wanted:
                keep.append(node)
    return keep


def _run_cloud_steps(tmp_dir: Path) -> dict[str, object]:
    """Execute the notebook's word-cloud statements; return the resulting namespace."""
    with warnings.catch_warnings():  # jieba 0.42's regexes: "invalid escape sequence"
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", SyntaxWarning)
        import jieba
    from wordcloud import WordCloud

    jieba.setLogLevel(logging.WARNING)
    jieba.dt.tmp_dir = str(tmp_dir)
    namespace: dict[str, object] = {
        "Counter": Counter, "WordCloud": WordCloud, "datasets": datasets, "jieba": jieba,
        "np": np, "settings": settings, "SEED": settings.SEED,
    }  # fmt: skip
    module = ast.Module(body=_notebook_statements(), type_ignores=[])
    exec(compile(module, str(NOTEBOOK), "exec"), namespace)  # noqa: S102 - the course's own notebook
    missing = (DEFINITIONS | STEPS) - namespace.keys()
    assert not missing, f"the notebook no longer defines {sorted(missing)}; update this test"
    return namespace


def _missing_characters(words: list[str], font_path: str | Path) -> list[str]:
    from fontTools.ttLib import TTFont

    cmap = TTFont(str(font_path)).getBestCmap()
    return sorted({ch for word in words for ch in word if ord(ch) not in cmap})


@pytest.fixture(scope="module")
def fast_cloud(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The notebook's word-cloud namespace, computed as in a FAST run."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(settings.FAST_ENV, "1")
        return _run_cloud_steps(tmp_path_factory.mktemp("jieba"))


def test_cloud_words_are_reproduced_and_chinese(fast_cloud):
    """Do the notebook's steps give a non-trivial list of Chinese words, as many as drawn?"""
    words = fast_cloud["cloud_words"]
    clouds = fast_cloud["clouds"]
    assert len(fast_cloud["x_train"]) == 1024, "expected the FAST training subset"
    assert set(clouds) == {0, 1}
    assert len(words) >= 50, f"only {len(words)} words drawn: {words}"
    assert sum(any("\u4e00" <= ch <= "\u9fff" for ch in w) for w in words) >= 0.9 * len(words)
    drawn = {w for cloud in clouds.values() for (w, _), *_ in cloud.layout_}
    assert drawn == set(words)


def test_the_clouds_use_the_bundled_font(fast_cloud):
    """Is every cloud drawn with datasets.cjk_font_path(), and built only by make_cloud?"""
    for cloud in fast_cloud["clouds"].values():
        assert Path(cloud.font_path) == datasets.cjk_font_path()
    sources = [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells
               if c.cell_type == "code"]  # fmt: skip
    assert sum(src.count("WordCloud(") for src in sources) == 1, "a cloud bypasses make_cloud"


def test_bundled_font_covers_every_drawn_character(fast_cloud):
    """Does the bundled CJK font have a glyph for every character of the drawn words?"""
    for cloud in fast_cloud["clouds"].values():
        drawn = [w for (w, _), *_ in cloud.layout_]
        missing = _missing_characters(drawn, cloud.font_path)
        assert missing == [], f"{cloud.font_path} lacks {missing} (used in {drawn})"


def test_the_check_detects_missing_glyphs(fast_cloud):
    """Would the check fail for a character the font lacks, and for wordcloud's default font?"""
    import wordcloud

    words = [*fast_cloud["cloud_words"], f"好{NOT_IN_FONT}"]
    assert _missing_characters(words, datasets.cjk_font_path()) == [NOT_IN_FONT]
    default_missing = _missing_characters(fast_cloud["cloud_words"], wordcloud.wordcloud.FONT_PATH)
    assert len(default_missing) > 0.9 * len(set("".join(fast_cloud["cloud_words"])))
