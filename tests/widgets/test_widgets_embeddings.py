"""Features, PCA and t-SNE (openTSNE, scikit-learn fallback), the disk cache, the explorer."""

from __future__ import annotations

import re

import numpy as np
import pytest
from kerascourse.widgets import (
    EmbeddingExplorer,
    EmbeddingFallbackWarning,
    embed,
    extract_features,
    neighbours_kept,
    plot_embedding,
    subsample,
)
from kerascourse.widgets import embeddings as emb
from kerascourse.widgets._cache import EMBEDDINGS
from kerascourse.widgets._render import decode_png, figure_pixels

N = 180  # points in the explorer tests: t-SNE takes about a second


@pytest.fixture(scope="module")
def blobs():
    """Three well separated Gaussian clusters in 20-D, 40 points each, and their labels."""
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 10, (3, 20))
    x = np.concatenate([c + rng.normal(0, 1, (40, 20)) for c in centres]).astype(np.float32)
    return x, np.repeat(np.arange(3), 40)


def test_features_are_the_layer_outputs_flattened(cnn, images):
    """Does extract_features return one flattened row of the layer's output per sample?"""
    feats = extract_features(cnn, images[0][:5], layer="pool1")
    assert feats.shape == (5, 13 * 13 * 4)
    from kerascourse.widgets import extract_activations

    np.testing.assert_allclose(
        feats[2], extract_activations(cnn, images[0][2], layer="pool1").ravel(), rtol=1e-5
    )


def test_default_feature_layer_is_the_last_hidden_layer(cnn, mlp, images, digits):
    """Without layer=, are the features those of the last hidden layer ('hidden')?"""
    assert extract_features(cnn, images[0][:2]).shape == (2, 8)
    assert extract_features(mlp, digits[0][:2]).shape == (2, 16)


def test_subsample_keeps_at_most_max_points():
    """Is a 12,000-sample set cut to 5,000 distinct sorted indices, and a small one kept whole?"""
    idx = subsample(12_000)
    assert len(idx) == 5000
    assert len(np.unique(idx)) == 5000
    assert np.all(np.diff(idx) > 0)
    np.testing.assert_array_equal(subsample(300), np.arange(300))


def test_pca_separates_the_blobs_and_is_deterministic(blobs):
    """Does the PCA map keep clusters apart, identically on a second call?"""
    x, y = blobs
    a = embed(x, method="pca")
    assert a.shape == (120, 2)
    np.testing.assert_array_equal(a, embed(x.copy(), method="pca"))
    centres = np.stack([a[y == k].mean(axis=0) for k in range(3)])
    spread = max(np.sqrt(((a[y == k] - centres[k]) ** 2).sum(axis=1).mean()) for k in range(3))
    gaps = [np.linalg.norm(centres[i] - centres[j]) for i in range(3) for j in range(i + 1, 3)]
    assert min(gaps) > 3 * spread


def test_tsne_keeps_neighbourhoods_better_than_a_random_map(blobs):
    """Does openTSNE keep far more 10-NN neighbourhoods than random 2-D points do?"""
    x, _ = blobs
    points = embed(x, perplexity=10, cache=False)
    assert points.shape == (120, 2)
    random = np.random.default_rng(1).normal(size=(120, 2))
    assert neighbours_kept(x, points) > neighbours_kept(x, random) + 0.2


def test_tsne_is_read_back_from_disk(blobs, monkeypatch, tmp_path):
    """After a run, does a fresh process state load the map from disk instead of recomputing?"""
    monkeypatch.setenv("KERASCOURSE_CACHE", str(tmp_path))
    x, _ = blobs
    first = embed(x, perplexity=8)
    assert list((tmp_path / "embeddings").glob("tsne-opentsne-p8-s0-*.npy"))
    EMBEDDINGS.clear()  # as if the kernel had restarted

    def must_not_run(*args):
        raise AssertionError("t-SNE ran again")

    monkeypatch.setattr(emb, "_tsne_opentsne", must_not_run)
    np.testing.assert_array_equal(embed(x, perplexity=8), first)
    with pytest.raises(AssertionError, match="ran again"):
        embed(x, perplexity=9)  # other parameters: another cache entry


def test_scikit_learn_is_the_fallback_with_a_warning(blobs, monkeypatch):
    """Without openTSNE, does t-SNE run with scikit-learn and say how to get the fast one?"""
    monkeypatch.setattr(emb, "_has_opentsne", lambda: False)
    x, _ = blobs
    with pytest.warns(EmbeddingFallbackWarning, match=re.escape("pip install openTSNE")):
        points = embed(x[:60], perplexity=5, cache=False)
    assert points.shape == (60, 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"method": "umap"}, "Unknown method 'umap'. Available: ['pca', 'tsne']."),
     ({"perplexity": 50}, "perplexity=50 is too large for 120 points: t-SNE needs 0 < perplexity < (n_points - 1) / 3 = 39.7."),
     ({"implementation": "fast"}, "Unknown t-SNE implementation 'fast'. Available: ['auto', 'opentsne', 'sklearn'].")],
    ids=["method", "perplexity", "implementation"],
)  # fmt: skip
def test_bad_embedding_arguments(blobs, kwargs, message):
    """Does each bad argument get the valid values?"""
    with pytest.raises(ValueError, match=re.escape(message)):
        embed(blobs[0], **kwargs)


@pytest.fixture(scope="module")
def explorer(mlp, digits):
    return EmbeddingExplorer(mlp, digits[0], digits[1], max_points=N, perplexity=20)


def test_explorer_subsamples_and_embeds(explorer, digits, ipywidgets_major):
    """Are 180 of 1,797 digits shown, with their labels, and a 2-D map for each?"""
    assert len(explorer.indices) == N
    np.testing.assert_array_equal(explorer.labels, digits[1][explorer.indices])
    assert explorer.embedding_.shape == (N, 2)
    assert explorer.features_.shape == (N, 16)
    assert ipywidgets_major in (7, 8)


def test_explorer_controls(explorer):
    """Are layer/method Dropdowns and non-continuous perplexity/point IntSliders there?"""
    import ipywidgets as w

    c = explorer.controls
    assert isinstance(c["method"], w.Dropdown)
    assert list(c["method"].options) == [("PCA", "pca"), ("t-SNE", "tsne")]
    assert c["layer"].value == "hidden"
    assert c["perplexity"].continuous_update is False
    assert c["perplexity"].max == 59  # below (180 - 1) / 3 = 59.7
    assert (c["point"].max, c["point"].continuous_update) == (N - 1, False)


def test_picture_shows_the_map_in_class_colours(explorer):
    """Does the picture contain each class's colour and the widget hold the same PNG?

    ``to_array()`` first: a fresh explorer shows the PCA preview until it is displayed or
    asked for its map (then t-SNE runs), and under xdist this test may be the first of its
    module on a worker.
    """
    expected = explorer.to_array()
    img = decode_png(explorer.image.value)
    np.testing.assert_array_equal(img, expected)
    from kerascourse.widgets._render import class_colors

    for colour in class_colors(10):
        assert np.all(img == colour, axis=-1).any()


def test_choosing_a_point_moves_the_ring_without_recomputing(explorer):
    """Does the point slider redraw (ring, thumbnail) with no forward pass and no t-SNE?"""
    extractor = explorer._state.extractor
    passes = extractor.forward_passes
    before = explorer.image.value
    explorer.controls["point"].value = 17
    assert explorer.point == 17
    assert explorer.image.value != before
    assert extractor.forward_passes == passes


def test_switching_to_pca_is_immediate(explorer):
    """Does the method menu switch to the PCA map (and back to the cached t-SNE)?"""
    tsne_png = explorer.image.value
    explorer.method = "pca"
    np.testing.assert_allclose(explorer.embedding_, embed(explorer.features_, method="pca"))
    assert explorer.image.value != tsne_png
    explorer.method = "tsne"
    assert explorer.embedding_.shape == (N, 2)


def test_pca_preview_is_shown_while_tsne_runs(explorer, monkeypatch):
    """On a new perplexity, is the PCA map pushed to the Image before the t-SNE one?"""
    shown = []
    explorer.image.observe(lambda change: shown.append(change["new"]), names="value")
    progress = []
    monkeypatch.setattr(explorer, "_progress", lambda done, total: progress.append(done))
    explorer.controls["perplexity"].value = 12
    assert len(shown) == 2  # the preview, then the map
    preview = explorer._state.picture(method="pca", note="  (t-SNE running...)")
    np.testing.assert_array_equal(decode_png(shown[0]), preview)
    np.testing.assert_array_equal(decode_png(shown[1]), explorer.to_array())
    assert progress
    assert progress[-1] == 750
    assert explorer.status.value == ""


def test_the_explorer_state_round_trips_through_its_properties(explorer):
    """Does setting layer/perplexity/point via attributes update the controls too?"""
    explorer.point = 3
    explorer.perplexity = 12
    assert explorer.controls["point"].value == 3
    assert explorer.perplexity == 12.0
    with pytest.raises(
        ValueError,
        match=re.escape(
            "perplexity must be between 2 and 59 for 180 points. Received: perplexity=90."
        ),
    ):
        explorer.perplexity = 90
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Received point=500, but 180 points are shown, so valid values are 0 to 179."
        ),
    ):
        explorer.point = 500


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [("short-y", {}, "EmbeddingExplorer needs one label per sample: x has 40 samples but y has 39 labels."),
     ("ok", {"class_names": ["a"]}, "got 1 class_names but labels go up to 9; pass one name per class."),
     ("ok", {"method": "umap"}, "Unknown method 'umap'. Available: ['pca', 'tsne']."),
     ("ok", {"perplexity": 30}, "perplexity=30 is too large for 40 points"),
     ("ok", {"layer": "hiden"}, "Layer 'hiden' not found in model 'mlp'. Valid layer names: ['pixels', 'hidden', 'out']. Received: layer='hiden'. Did you mean 'hidden'?"),
     ("float-y", {}, "needs integer class labels (or one-hot rows); got y of dtype float32.")],
    ids=["labels", "class-names", "method", "perplexity", "layer", "label-dtype"],
)  # fmt: skip
def test_bad_explorer_input(mlp, digits, args, kwargs, message):
    """Does each bad input to EmbeddingExplorer get a clear message?"""
    x, y = digits[0][:40], digits[1][:40]
    if args == "short-y":
        y = y[:39]
    if args == "float-y":
        y = y.astype(np.float32) + 0.5
    with pytest.raises(ValueError, match=re.escape(message)):
        EmbeddingExplorer(mlp, x, y, **kwargs)


def test_one_hot_labels_are_accepted(mlp, digits):
    """Are one-hot label rows turned into class indices?"""
    x, y = digits[0][:40], digits[1][:40]
    ex = EmbeddingExplorer(mlp, x, np.eye(10)[y], method="pca")
    np.testing.assert_array_equal(ex.labels, y)


def test_texts_replace_thumbnails(mlp, digits):
    """With texts=, is the chosen sample's text drawn instead of its image?"""
    x, y = digits[0][:40], digits[1][:40]
    texts = [f"sample number {i}" for i in range(40)]
    with_text = EmbeddingExplorer(mlp, x, y, method="pca", texts=texts).to_array()
    plain = EmbeddingExplorer(mlp, x, y, method="pca").to_array()
    assert with_text.shape != plain.shape or not np.array_equal(with_text, plain)


def test_plot_embedding_is_the_classic_figure(mlp, digits):
    """Does plot_embedding return a Figure of the coloured map (no side panel)?"""
    fig = plot_embedding(mlp, digits[0], digits[1], max_points=N, perplexity=20)
    pixels = figure_pixels(fig)
    assert pixels.shape[1] < 600  # map and legend only
    from kerascourse.widgets._render import class_colors

    assert np.all(pixels == class_colors(10)[3], axis=-1).any()
