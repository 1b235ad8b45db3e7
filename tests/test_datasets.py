"""Tests for kerascourse.datasets: bundled data, verification, rebuilds, online loaders.

No network: downloads either fail on purpose (a patched pooch downloader) or come from an
http.server on 127.0.0.1 serving files from tmp_path.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import unicodedata
import warnings
from pathlib import Path

import kerascourse.datasets as kd
import numpy as np
import pytest
from kerascourse.datasets import (
    DataIntegrityError,
    DatasetUnavailableError,
    MissingDataError,
    OfflineFallbackWarning,
    UnknownDatasetError,
    online,
)
from kerascourse.datasets import _manifest as manifest_mod

PACKAGE_DIR = Path(kd.__file__).resolve().parent
SPLITS = ("train", "val", "test")


def rebuild_cmd(name: str) -> str:
    return f"python -m kerascourse.datasets rebuild {name}"


@pytest.fixture
def bundle_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of MANIFEST.json + data/, made the active bundle for this test."""
    root = tmp_path / "bundle"
    root.mkdir()
    shutil.copy2(PACKAGE_DIR / "MANIFEST.json", root / "MANIFEST.json")
    shutil.copytree(PACKAGE_DIR / "data", root / "data")
    monkeypatch.setenv(manifest_mod.BUNDLE_ENV, str(root))
    return root


def flip_bytes(path: Path, offset: int = 200) -> None:
    data = bytearray(path.read_bytes())
    data[offset : offset + 4] = bytes(b ^ 0xFF for b in data[offset : offset + 4])
    path.write_bytes(bytes(data))


def review_texts() -> list[str]:
    ds = kd.load("chinese_reviews")
    return ds.x_train + ds.x_val + ds.x_test


def all_labels(ds: kd.Dataset) -> np.ndarray:
    return np.concatenate([ds.y_train, ds.y_val, ds.y_test])


# --- import cost ---------------------------------------------------------------------


def test_import_and_verify_need_only_the_standard_library():
    """Do `import kerascourse.datasets`, verify() and the verify CLI work with numpy & co. blocked?"""
    script = textwrap.dedent(
        """
        import sys
        BLOCKED = {"numpy", "pooch", "PIL", "matplotlib", "sklearn", "tensorflow", "keras",
                   "fontTools", "pandas", "requests", "wordcloud"}

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError(f"blocked: {name}")
                return None

        sys.meta_path.insert(0, Block())
        import kerascourse.datasets as kd
        from kerascourse.datasets.__main__ import main
        assert issubclass(kd.MissingDataError, FileNotFoundError)
        assert len(kd.verify()) == len(kd.manifest()) >= 7
        assert main(["verify"]) == 0
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr


# --- the bundled datasets ------------------------------------------------------------


def test_available_lists_the_loadable_datasets():
    """Does available() list the six datasets and no resources (font, stop words, weights)?"""
    assert kd.available() == [
        "breast_cancer", "chinese_reviews", "diabetes", "digits", "digits28", "letters",
    ]  # fmt: skip


def test_digits_shapes_dtypes_and_range():
    """Are digits float32 (n, 8, 8) images in [0, 1] with int64 labels 0..9?"""
    ds = kd.load("digits")
    for split in SPLITS:
        x, y = getattr(ds, f"x_{split}"), getattr(ds, f"y_{split}")
        assert x.shape[1:] == (8, 8)
        assert x.dtype == np.float32
        assert y.dtype == np.int64
        assert len(x) == len(y)
        assert 0.0 <= x.min()
        assert x.max() == pytest.approx(1.0)
    assert ds.class_names == [str(i) for i in range(10)]
    assert ds.feature_names is None


def test_digits_split_sizes_are_60_20_20():
    """Do the digits splits cover all 1,797 images about 60/20/20?"""
    ds = kd.load("digits")
    sizes = [len(ds.y_train), len(ds.y_val), len(ds.y_test)]
    assert sum(sizes) == 1797
    assert sizes == pytest.approx([1797 * 0.6, 1797 * 0.2, 1797 * 0.2], abs=5)


def test_digits_splits_are_stratified():
    """Does every split hold each digit in about the overall proportion?"""
    ds = kd.load("digits")
    overall = np.bincount(all_labels(ds), minlength=10) / 1797
    for y in (ds.y_train, ds.y_val, ds.y_test):
        np.testing.assert_allclose(np.bincount(y, minlength=10) / len(y), overall, atol=0.01)


def test_digits28_matches_digits_order_and_shape():
    """Is digits28 the same images (n, 28, 28, 1) in [0, 1], same labels in the same order?"""
    small, big = kd.load("digits"), kd.load("digits28")
    for split in SPLITS:
        xb = getattr(big, f"x_{split}")
        assert xb.shape[1:] == (28, 28, 1)
        assert xb.dtype == np.float32
        assert 0.0 <= xb.min()
        assert xb.max() <= 1.0
        np.testing.assert_array_equal(getattr(big, f"y_{split}"), getattr(small, f"y_{split}"))
    # Same images: the mean brightness of each upscaled image tracks its 8x8 original.
    corr = np.corrcoef(small.x_train.mean(axis=(1, 2)), big.x_train.mean(axis=(1, 2, 3)))[0, 1]
    assert corr > 0.95


def test_chinese_reviews_types_and_splits():
    """Are reviews lists of str with int64 0/1 labels, split about 80/10/10 and stratified?"""
    ds = kd.load("chinese_reviews")
    total = len(all_labels(ds))
    for split, share in zip(SPLITS, (0.8, 0.1, 0.1), strict=True):
        x, y = getattr(ds, f"x_{split}"), getattr(ds, f"y_{split}")
        assert isinstance(x, list)
        assert all(isinstance(t, str) and t for t in x[:100])
        assert y.dtype == np.int64
        assert set(np.unique(y)) == {0, 1}
        assert len(x) == len(y) == pytest.approx(total * share, abs=2)
        assert y.mean() == pytest.approx(all_labels(ds).mean(), abs=0.005)
    assert ds.class_names == ["negative", "positive"]


def test_chinese_reviews_counts():
    """Are there about 8.3k positive and 9.0k negative unique reviews?"""
    labels = all_labels(kd.load("chinese_reviews"))
    n_pos, n_neg = int((labels == 1).sum()), int((labels == 0).sum())
    assert 8200 <= n_pos <= 8400
    assert 8950 <= n_neg <= 9100
    assert (n_pos, n_neg) == (8332, 9031)


def test_chinese_reviews_no_text_in_two_splits():
    """Does every review text occur exactly once across all splits?"""
    ds = kd.load("chinese_reviews")
    seen: dict[str, str] = {}
    for split in SPLITS:
        for text in getattr(ds, f"x_{split}"):
            assert text not in seen, f"{text[:30]!r} in {seen.get(text)} and {split}"
            seen[text] = split


def test_chinese_reviews_are_stripped():
    """Are review texts free of surrounding whitespace and private-use characters?"""
    for text in review_texts():
        assert text == text.strip()
        assert not any(unicodedata.category(c) == "Co" for c in text)


def test_diabetes_is_unscaled_float32_regression():
    """Is diabetes float32 x (10 named features, unscaled) with float32 targets, 60/20/20?"""
    ds = kd.load("diabetes")
    assert ds.feature_names == ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    assert ds.class_names is None
    assert ds.x_train.dtype == np.float32
    assert ds.x_train.shape[1] == 10
    assert ds.y_train.dtype == np.float32
    assert [len(ds.y_train), len(ds.y_val), len(ds.y_test)] == [266, 88, 88]
    assert ds.x_train[:, 0].max() > 50  # age in years, not standardised


def test_breast_cancer_is_stratified_int64_classification():
    """Is breast_cancer 30 unscaled float32 features, int64 labels, split 60/20/20 stratified?"""
    ds = kd.load("breast_cancer")
    assert ds.class_names == ["malignant", "benign"]
    assert len(ds.feature_names) == 30
    assert ds.feature_names[0] == "mean radius"
    assert ds.x_train.dtype == np.float32
    assert ds.y_train.dtype == np.int64
    sizes = [len(ds.y_train), len(ds.y_val), len(ds.y_test)]
    assert sum(sizes) == 569
    assert sizes == pytest.approx([341.4, 113.8, 113.8], abs=3)
    overall = all_labels(ds).mean()
    for y in (ds.y_train, ds.y_val, ds.y_test):
        assert y.mean() == pytest.approx(overall, abs=0.01)
    assert ds.x_train.max() > 100  # areas in pixels: unscaled


def test_dataset_is_frozen():
    """Is a loaded Dataset immutable, so a notebook cannot swap a split by accident?"""
    ds = kd.load("digits")
    with pytest.raises(AttributeError):
        ds.x_train = None  # type: ignore[misc]


def test_dataset_repr_is_short():
    """Does the repr summarise the splits instead of printing arrays?"""
    assert repr(kd.load("digits")) == (
        "Dataset('digits', train=1079, val=359, test=359, x=(8, 8) float32, classes=10)"
    )


def test_stopwords_contain_common_particles():
    """Is stopwords_zh() a non-empty frozenset holding '的' and '了'?"""
    words = kd.stopwords_zh()
    assert isinstance(words, frozenset)
    assert len(words) > 1000
    assert {"的", "了"} <= words


# --- the transfer-learning pair: letters (target task) and digits_base (pretrained) ----

LETTERS = ["A", "C", "E", "F", "H", "K", "L", "N", "P", "T"]


def test_letters_shapes_splits_and_classes():
    """Are letters (n, 28, 28, 1) float32 in [0, 1], 40/20/40 per letter, ten sorted classes?"""
    ds = kd.load("letters")
    assert ds.class_names == LETTERS
    for split, per_class in zip(SPLITS, (40, 20, 40), strict=True):
        x, y = getattr(ds, f"x_{split}"), getattr(ds, f"y_{split}")
        assert x.shape == (per_class * 10, 28, 28, 1)
        assert x.dtype == np.float32
        assert y.dtype == np.int64
        assert 0.0 <= x.min()
        assert x.max() <= 1.0
        assert np.bincount(y, minlength=10).tolist() == [per_class] * 10
    assert not np.array_equal(ds.y_train[:10], np.sort(ds.y_train[:10]))  # stored shuffled


def test_letters_look_like_digits28():
    """Were the letters recorded like the digits (8x8 counts upscaled: similar ink and blur)?"""
    letters, digits = kd.load("letters"), kd.load("digits28")
    assert letters.x_train.mean() == pytest.approx(digits.x_train.mean(), rel=0.35)
    assert (letters.x_train == 0).mean() == pytest.approx((digits.x_train == 0).mean(), abs=0.15)


@pytest.fixture
def data_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("KERASCOURSE_DATA", str(cache))
    return cache


def test_image_folder_is_laid_out_for_image_dataset_from_directory(data_cache: Path):
    """Does image_folder('letters') give split/class/*.png folders holding load()'s images?"""
    from PIL import Image

    root = kd.image_folder("letters")
    assert data_cache in root.parents
    assert sorted(p.name for p in root.iterdir()) == ["test", "train", "val"]
    ds = kd.load("letters")
    for split in SPLITS:
        assert sorted(p.name for p in (root / split).iterdir()) == LETTERS
        files = sorted((root / split).glob("*/*.png"), key=lambda p: int(p.stem))
        assert len(files) == len(getattr(ds, f"y_{split}"))
    first = files[0]  # test split, index 0
    pixels = np.asarray(Image.open(first), dtype=np.float32)[..., np.newaxis] / 255
    np.testing.assert_array_equal(pixels, ds.x_test[0])
    assert first.parent.name == ds.class_names[ds.y_test[0]]


def test_image_folder_reuses_and_repairs_its_extraction(data_cache: Path):
    """Is the zip extracted once, and extracted again when a file has gone missing?"""
    root = kd.image_folder("letters")
    victim = next((root / "train" / "A").glob("*.png"))
    marker_time = (root.parent / ".kerascourse-extracted").stat().st_mtime_ns
    assert kd.image_folder("letters") == root
    assert (root.parent / ".kerascourse-extracted").stat().st_mtime_ns == marker_time
    victim.unlink()
    assert kd.image_folder("letters") == root
    assert victim.is_file()


@pytest.mark.parametrize("member", ["../x.png", "letters/../../x.png", "/tmp/x.png"])
def test_image_folder_refuses_a_member_that_escapes_its_folder(tmp_path: Path, member: str):
    """Is a zip member outside the extraction folder an error, with nothing written?
    (``ZipFile.extractall`` alone would quietly rename it into the folder.)"""
    import zipfile

    from kerascourse.datasets._folders import extract_once

    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("letters/train/A/0.png", b"png")
        zf.writestr(member, b"png")
    target = tmp_path / "out" / "letters-0123"
    with pytest.raises(ValueError, match=re.escape(f"Unsafe path {member!r}")):
        extract_once(archive, "0" * 64, target)
    assert not (tmp_path / "x.png").exists()
    assert not (tmp_path / "out").exists()


def test_image_folder_rejects_array_datasets():
    """Does image_folder('digits28') say it is stored as arrays, and list the folders?"""
    with pytest.raises(UnknownDatasetError, match=re.escape("use load()")) as info:
        kd.image_folder("digits28")
    assert "['letters']" in str(info.value)


def test_load_of_the_weights_points_to_pretrained_base():
    """Does load('digits_base') say to use pretrained_base()?"""
    with pytest.raises(UnknownDatasetError, match=re.escape("use pretrained_base()")):
        kd.load("digits_base")


def test_digits_base_provenance_matches_the_training_script():
    """Does the manifest record the seed, epochs and versions that pretrain_base uses?"""
    from kerascourse.datasets import pretrain_base

    e = {e.name: e for e in kd.manifest()}["digits_base"]
    assert e.kind == "weights"
    assert e.path.endswith(".weights.h5")
    assert f"seed {pretrain_base.BUNDLE_SEED}, {pretrain_base.EPOCHS} epochs" in e.source
    assert f"batch {pretrain_base.BATCH_SIZE}, Adam {pretrain_base.LEARNING_RATE:g}" in e.source
    assert re.search(r"Keras 3\.\d+\.\d+ \(\w+ backend\)", e.source)
    assert re.search(r"accuracy: 0\.\d{3} on the digits28 test split \(\d+/359", e.description)


def test_pretrained_base_has_named_blocks_and_loads_the_weights():
    """Does pretrained_base() build the documented layers, output shapes and bundled weights?"""
    import keras

    base = kd.pretrained_base()
    names = [layer.name for layer in base.layers]
    blocks = [f"block{b}_{part}" for b in (1, 2, 3) for part in ("conv", "bn", "relu", "pool")]
    assert names == ["image", *blocks[:-1], "avg_pool"]
    assert base.name == "digits_base"
    assert base.input_shape == (None, 28, 28, 1)
    assert base.output_shape == (None, 128)
    assert all(layer.trainable for layer in base.layers)
    assert kd.pretrained_base(pooling=None).output_shape == (None, 7, 7, 128)
    assert kd.pretrained_base(include_top=True).output_shape == (None, 10)
    keras.utils.set_random_seed(0)
    fresh = kd.pretrained_base(weights=None)
    loaded = base.get_layer("block1_conv").get_weights()[0]
    assert not np.allclose(loaded, fresh.get_layer("block1_conv").get_weights()[0])
    with pytest.raises(ValueError, match="weights must be 'digits28'"):
        kd.pretrained_base(weights="imagenet")
    with pytest.raises(ValueError, match="pooling must be None or 'avg'"):
        kd.pretrained_base(pooling="max")


def test_pretrained_base_reaches_the_stated_source_accuracy():
    """Do the bundled weights classify the digits28 test split as well as the manifest says?

    Retraining takes about a minute, so the rebuild is not repeated here; instead the file is
    checked to be what its entry claims (give or take one image for floating-point drift).
    """
    from kerascourse.datasets import pretrain_base

    e = {e.name: e for e in kd.manifest()}["digits_base"]
    stated, total = map(int, re.search(r"\((\d+)/(\d+)", e.description).groups())
    correct, n = pretrain_base.evaluate_bundled()
    assert n == total == 359
    assert abs(correct - stated) <= 1, (correct, stated)
    assert correct / n > 0.95


# --- the CJK font --------------------------------------------------------------------


def test_font_covers_every_character_of_the_bundled_text():
    """Does the font's cmap hold every printable character of the reviews and stop words?"""
    from fontTools.ttLib import TTFont

    cmap = TTFont(kd.cjk_font_path()).getBestCmap()
    chars = set("".join(review_texts())) | set("".join(kd.stopwords_zh()))
    missing = sorted(c for c in chars if unicodedata.category(c)[0] != "C" and ord(c) not in cmap)
    assert not missing, missing[:20]


def test_font_covers_gb2312_level1_and_ascii():
    """Does the font cover the 3,755 common hanzi and printable ASCII?"""
    from fontTools.ttLib import TTFont
    from kerascourse.datasets._build_font import gb2312_level1

    cmap = TTFont(kd.cjk_font_path()).getBestCmap()
    wanted = gb2312_level1() | set(range(0x20, 0x7F))
    assert len(gb2312_level1()) == 3755
    assert wanted <= cmap.keys()


def _draw_chinese(family: str | None = None) -> list[str]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = Figure(figsize=(3, 2))
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        ax.plot([-1, 0, 1])
        ax.set_title("酒店评论：好评与差评")
        ax.set_xlabel("这本书很好看，推荐！", family=family)
        fig.canvas.draw()
    return [str(w.message) for w in caught]


def test_matplotlib_draws_chinese_without_missing_glyphs():
    """With use_cjk_font(), does matplotlib draw Chinese text without 'Glyph missing' warnings?"""
    import matplotlib

    with matplotlib.rc_context():
        family = kd.use_cjk_font()
        messages = _draw_chinese()
        assert matplotlib.rcParams["font.sans-serif"][0] == family
        assert matplotlib.rcParams["axes.unicode_minus"] is False
    assert family == "Noto Sans CJK SC"
    assert not [m for m in messages if "Glyph" in m], messages


def test_matplotlib_without_the_font_does_warn():
    """Without the font, does the same drawing warn about missing glyphs (the test can fail)?"""
    import matplotlib

    with matplotlib.rc_context({"font.family": "DejaVu Sans"}):
        messages = _draw_chinese(family="DejaVu Sans")
    assert any("Glyph" in m and "missing" in m for m in messages)


def test_wordcloud_renders_chinese_with_the_font():
    """Does wordcloud draw a Chinese cloud (non-blank pixels) with cjk_font_path()?"""
    from wordcloud import WordCloud

    stop = kd.stopwords_zh()
    freqs = {w: n for w, n in {"酒店": 9, "服务": 7, "房间": 6, "不错": 5, "的": 99}.items()
             if w not in stop}  # fmt: skip
    cloud = WordCloud(
        font_path=str(kd.cjk_font_path()), width=160, height=100,
        background_color="white", random_state=0,
    ).generate_from_frequencies(freqs)  # fmt: skip
    pixels = cloud.to_array()
    assert pixels.shape == (100, 160, 3)
    inked = (pixels < 200).any(axis=-1).mean()
    assert inked > 0.03


# --- manifest and verification -------------------------------------------------------


def test_manifest_entries_match_files():
    """Does every MANIFEST entry's file exist with the stated size and SHA256?"""
    entries = kd.manifest()
    assert {e.name for e in entries} >= {"cjk_font", "chinese_stopwords", *kd.available()}
    for e in entries:
        path = PACKAGE_DIR / e.path
        assert path.stat().st_size == e.size, e.name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == e.sha256, e.name
        assert e.rebuild == rebuild_cmd(e.name)


def test_manifest_entries_name_existing_licence_files():
    """Does every entry state a licence and ship the licence files it names?"""
    for e in kd.manifest():
        assert e.licence
        assert e.source
        assert e.description
        assert e.licence_files
        for rel in e.licence_files:
            assert (PACKAGE_DIR / rel).is_file(), rel


def test_bundle_stays_small():
    """Is the bundled data well under 12 MB?"""
    assert sum(e.size for e in kd.manifest()) < 12 * 1024 * 1024


def test_readme_table_lists_every_entry():
    """Does datasets/README.md show each MANIFEST entry with its rebuild command?"""
    readme = (PACKAGE_DIR / "README.md").read_text(encoding="utf-8")
    for e in kd.manifest():
        assert f"`{e.name}`" in readme
        assert e.rebuild in readme


def test_verify_checks_all_files():
    """Does verify() return every entry when the bundle is intact?"""
    assert [e.name for e in kd.verify()] == [e.name for e in kd.manifest()]


def test_corrupted_file_raises_integrity_error(bundle_copy: Path):
    """Does a flipped byte raise DataIntegrityError naming the file and the rebuild command?"""
    flip_bytes(bundle_copy / "data" / "digits.npz")
    with pytest.raises(DataIntegrityError, match=re.escape(rebuild_cmd("digits"))) as info:
        kd.load("digits")
    message = str(info.value)
    assert "digits.npz" in message
    assert re.search(r"expected [0-9a-f]{8}…[0-9a-f]{8}, got [0-9a-f]{8}…[0-9a-f]{8}", message)


def test_deleted_file_raises_missing_data_error(bundle_copy: Path):
    """Does a deleted file raise MissingDataError naming its path and the rebuild command?"""
    path = bundle_copy / "data" / "chinese_reviews.tsv.gz"
    path.unlink()
    with pytest.raises(MissingDataError, match=re.escape(rebuild_cmd("chinese_reviews"))) as info:
        kd.load("chinese_reviews")
    assert str(path) in str(info.value)


def test_missing_font_raises_missing_data_error(bundle_copy: Path):
    """Does cjk_font_path() without the font raise MissingDataError with the rebuild command?"""
    (bundle_copy / "data" / "NotoSansCJKsc-Regular-subset.otf").unlink()
    with pytest.raises(MissingDataError, match=re.escape(rebuild_cmd("cjk_font"))):
        kd.cjk_font_path()


def test_missing_manifest_says_how_to_recover(bundle_copy: Path):
    """Does a missing MANIFEST.json raise MissingDataError that says to reinstall or rebuild?"""
    (bundle_copy / "MANIFEST.json").unlink()
    with pytest.raises(MissingDataError, match=re.escape(rebuild_cmd("all"))):
        kd.available()


def test_verification_is_cached_until_the_file_changes(
    bundle_copy: Path, monkeypatch: pytest.MonkeyPatch
):
    """Is a verified file hashed once per process, and again after it changes on disk?"""
    calls: list[Path] = []
    real = manifest_mod.sha256_file

    def counting(path: Path) -> str:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(manifest_mod, "sha256_file", counting)
    kd.load("digits")
    kd.load("digits")
    assert len(calls) == 1
    path = bundle_copy / "data" / "digits.npz"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    kd.verify("digits")
    assert len(calls) == 2


def test_unknown_name_suggests_close_match():
    """Does load('digts') list the datasets and suggest 'digits'?"""
    with pytest.raises(UnknownDatasetError, match=re.escape("Did you mean 'digits'?")) as info:
        kd.load("digts")
    assert "Available: ['breast_cancer', 'chinese_reviews'" in str(info.value)


def test_load_of_a_resource_points_to_its_accessor():
    """Does load('cjk_font') say which function to use instead?"""
    with pytest.raises(UnknownDatasetError, match=re.escape("use cjk_font_path()")):
        kd.load("cjk_font")


def test_unknown_error_is_a_value_error():
    """Can callers catch UnknownDatasetError as ValueError and MissingDataError as FileNotFoundError?"""
    assert issubclass(UnknownDatasetError, ValueError)
    assert issubclass(DataIntegrityError, ValueError)
    assert issubclass(MissingDataError, FileNotFoundError)
    assert issubclass(OfflineFallbackWarning, UserWarning)


# --- rebuilds ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["digits", "digits28", "chinese_stopwords", "chinese_reviews", "letters"]
)
def test_rebuild_reproduces_manifest_hash(name: str, tmp_path: Path):
    """Does rebuilding into a scratch folder give byte-identical files (same SHA256)?"""
    from kerascourse.datasets import build

    expected = {e.name: e for e in kd.manifest()}[name]
    new = build.rebuild(name, root=tmp_path)
    assert manifest_mod.sha256_file(tmp_path / new.path) == expected.sha256
    assert (new.sha256, new.size) == (expected.sha256, expected.size)


def test_rebuild_cli_updates_the_manifest_entry(bundle_copy: Path):
    """Does `rebuild digits` rewrite the file and restore its MANIFEST entry?"""
    from kerascourse.datasets.__main__ import main

    manifest_path = bundle_copy / "MANIFEST.json"
    raw = json.loads(manifest_path.read_text(encoding="utf-8"))
    good = next(e for e in raw if e["name"] == "digits")["sha256"]
    next(e for e in raw if e["name"] == "digits")["sha256"] = "0" * 64
    manifest_path.write_text(json.dumps(raw), encoding="utf-8")
    flip_bytes(bundle_copy / "data" / "digits.npz")

    assert main(["rebuild", "digits"]) == 0
    assert {e.name: e.sha256 for e in kd.manifest()}["digits"] == good
    assert kd.verify("digits")[0].name == "digits"


def test_rebuild_rejects_unknown_name():
    """Does `rebuild digts` exit 1 suggesting 'digits'?"""
    from kerascourse.datasets.__main__ import main

    assert main(["rebuild", "digts"]) == 1


def test_rebuild_font_without_source_explains_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Without a source font, does the font rebuild say to install fonts-noto-cjk?"""
    from kerascourse.datasets import _build_font

    monkeypatch.setattr(_build_font, "font_dirs", lambda: [tmp_path])
    with pytest.raises(MissingDataError, match=re.escape("apt install fonts-noto-cjk")):
        _build_font.find_source(None)


# --- CLI -----------------------------------------------------------------------------


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kerascourse.datasets", *args],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_cli_verify_exits_zero():
    """Does `python -m kerascourse.datasets verify` exit 0 on the shipped bundle?"""
    proc = _cli("verify")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("ok ") == len(kd.manifest())


def test_cli_verify_exits_one_on_corruption(bundle_copy: Path):
    """Does `verify` exit 1 and print the rebuild command when a file is corrupted?"""
    flip_bytes(bundle_copy / "data" / "chinese_stopwords.txt", offset=10)
    proc = _cli("verify", env={manifest_mod.BUNDLE_ENV: str(bundle_copy)})
    assert proc.returncode == 1
    assert "DataIntegrityError" in proc.stderr
    assert rebuild_cmd("chinese_stopwords") in proc.stderr


def test_cli_list_shows_every_entry(capsys: pytest.CaptureFixture[str]):
    """Does `list` print every bundled file's name?"""
    from kerascourse.datasets.__main__ import main

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(e.name in out for e in kd.manifest())


# --- online loaders ------------------------------------------------------------------


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every pooch HTTP download fails as on a machine without network."""
    import pooch
    import requests

    def unreachable(self, url, output_file, pooch_obj, check_only=False):
        raise requests.exceptions.ConnectionError(f"[Errno 101] Network is unreachable: {url}")

    monkeypatch.setenv("KERASCOURSE_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(pooch.HTTPDownloader, "__call__", unreachable)


@pytest.mark.usefixtures("offline")
def test_load_online_offline_names_the_bundled_alternative():
    """Offline, does load_online('mnist') raise DatasetUnavailableError naming load("digits28")?"""
    with pytest.raises(DatasetUnavailableError, match=re.escape('load("digits28")')) as info:
        kd.load_online("mnist")
    assert "Network is unreachable" in str(info.value)


@pytest.mark.usefixtures("offline")
def test_load_online_imdb_offline_names_chinese_reviews():
    """Offline, does load_online('imdb') point to load("chinese_reviews")?"""
    with pytest.raises(DatasetUnavailableError, match=re.escape('load("chinese_reviews")')):
        kd.load_online("imdb")


@pytest.mark.usefixtures("offline")
def test_load_online_fallback_warns_and_returns_digits28():
    """With fallback=True offline, is OfflineFallbackWarning raised at the caller's line?"""
    with pytest.warns(OfflineFallbackWarning, match=re.escape('load("digits28")')) as record:
        ds = kd.load_online("fashion_mnist", fallback=True)
    assert ds.name == "digits28"
    assert ds.x_train.shape[1:] == (28, 28, 1)
    assert record[0].filename == __file__


def test_load_online_unknown_name_lists_online_sets():
    """Does load_online('mnsit') suggest 'mnist' and say bundled names go to load()?"""
    with pytest.raises(UnknownDatasetError, match=re.escape("Did you mean 'mnist'?")):
        kd.load_online("mnsit")
    with pytest.raises(UnknownDatasetError, match=re.escape("use load('digits')")):
        kd.load_online("digits")


def test_registry_pins_a_hash_and_url_for_every_file():
    """Does every online dataset's file have a sha256 in REGISTRY and a URL?"""
    for spec in online.ONLINE.values():
        for fname in spec.files:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", online.REGISTRY[fname])
            assert online.URLS[fname].startswith(online.BASE_URL)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep the test output clean
        pass


@pytest.fixture
def local_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An HTTP server on 127.0.0.1 serving tmp_path/www; yields its base URL."""
    www = tmp_path / "www"
    www.mkdir()
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    monkeypatch.setenv("KERASCOURSE_DATA", str(tmp_path / "cache"))
    handler = functools.partial(_QuietHandler, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _register_tiny(www: Path, base: str, monkeypatch: pytest.MonkeyPatch, digest: str | None):
    """Serve a 60+10 image MNIST-format npz and register it as online dataset 'tiny'."""
    rng = np.random.default_rng(0)
    path = www / "tiny.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 256, (60, 28, 28), dtype=np.uint8),
        y_train=np.repeat(np.arange(10, dtype=np.uint8), 6),
        x_test=rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        y_test=np.arange(10, dtype=np.uint8),
    )
    real = hashlib.sha256(path.read_bytes()).hexdigest()
    fname = "tiny/tiny.npz"
    monkeypatch.setitem(online.REGISTRY, fname, f"sha256:{digest or real}")
    monkeypatch.setitem(online.URLS, fname, base + "tiny.npz")
    spec = online.OnlineDataset(
        files=(fname,), reader=online.ONLINE["mnist"].reader, alternative="digits28",
        val_fraction=1 / 6, description="tiny", licence="test data",
    )  # fmt: skip
    monkeypatch.setitem(online.ONLINE, "tiny", spec)
    return real


def test_load_online_downloads_and_verifies(local_server, monkeypatch: pytest.MonkeyPatch):
    """Does a real pooch download from 127.0.0.1 with the right hash load and split the data?"""
    www, base = local_server
    _register_tiny(www, base, monkeypatch, digest=None)
    ds = kd.load_online("tiny")
    assert ds.x_train.shape == (50, 28, 28, 1)
    assert ds.x_train.dtype == np.float32
    assert len(ds.y_val) == 10
    assert sorted(ds.y_val.tolist()) == list(range(10))
    assert ds.x_test.shape == (10, 28, 28, 1)
    assert ds.y_test.dtype == np.int64
    assert (Path(os.environ["KERASCOURSE_DATA"]) / "tiny" / "tiny.npz").is_file()


def test_load_online_wrong_hash_fails_with_expected_and_got(
    local_server, monkeypatch: pytest.MonkeyPatch
):
    """Does a download with a wrong pinned hash raise DataIntegrityError with expected vs got?"""
    www, base = local_server
    wrong = "0" * 64
    real = _register_tiny(www, base, monkeypatch, digest=wrong)
    with pytest.raises(
        DataIntegrityError, match=re.escape(f"expected sha256:{wrong} but got {real}")
    ):
        kd.load_online("tiny", fallback=True)  # integrity problems never fall back
    assert not (Path(os.environ["KERASCOURSE_DATA"]) / "tiny" / "tiny.npz").exists()
