"""Embedding explorer: a layer's hidden features for a labelled dataset, in 2-D.

Pure functions: :func:`extract_features` (one layer's outputs for every sample, cached
with the model's extractor), :func:`subsample` (5,000 points by default, which openTSNE
embeds in 15 s here, benchmarks/results/widgets.md; TensorBoard's projector samples 10,000
for t-SNE, 5,000 only for UMAP and 50,000 for PCA), :func:`embed` (PCA, instant; t-SNE with
openTSNE: Barnes-Hut under 10,000 points, FFT above; scikit-learn only as a fallback; cached
on disk keyed by a hash of the features and the parameters) and :func:`neighbours_kept`
(how much of each point's neighbourhood survives in 2-D). :func:`plot_embedding` returns a
Figure; :class:`EmbeddingExplorer` wires layer, method, perplexity and point controls to them
and shows the PCA preview while t-SNE runs.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _cache, _render
from ._explorer import Explorer, widget_bundle
from ._models import check_index, prepare, resolve_layer, to_numpy

METHODS = ("pca", "tsne")
MAX_POINTS = 5000
#: openTSNE switches from Barnes-Hut to FFT gradients at this many points.
FFT_FROM = 10_000
#: Barnes-Hut accuracy (openTSNE's default is 0.5). Measured on 5,000 x 64 hidden features:
#: 0.8 is about 27% faster and keeps 0.493 of each point's 10 nearest neighbours against
#: 0.495 (scikit-learn's default TSNE: 0.496); see benchmarks/results/widgets.md.
BH_THETA = 0.8


class EmbeddingFallbackWarning(UserWarning):
    """openTSNE is missing, so t-SNE runs with scikit-learn's slower implementation."""


def default_feature_layer(extractor: Any) -> str:
    """The last layer with weights before the output layer (the last hidden layer)."""
    names = extractor.names
    for name in reversed(names[:-1]):
        if extractor.layers[name].weights and "/" not in name:
            return name
    return names[-2] if len(names) > 1 else names[-1]


def extract_features(model: Any, x: Any, *, layer: Any = None, batch_size: int = 256) -> np.ndarray:
    """One layer's outputs for every sample of `x`, flattened to ``(n, features)``.

    Args:
        model: a built Keras model (any kind the explorers accept).
        x: a batch of inputs.
        layer: layer name or object. Defaults to the last hidden layer with weights.
        batch_size: samples per forward call. Defaults to `256`.
    """
    extractor, batch = prepare(model, x, "extract_features")
    name = default_feature_layer(extractor) if layer is None else resolve_layer(extractor, layer)
    return extractor.features(model, batch, name, batch_size)


def subsample(n: int, max_points: int = MAX_POINTS, *, seed: int = 0) -> np.ndarray:
    """Sorted indices of at most `max_points` of `n` samples (all of them if fewer)."""
    if max_points < 2:
        msg = f"max_points must be at least 2. Received: max_points={max_points}."
        raise ValueError(msg)
    if n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))


def _one_thread():
    """Single-threaded BLAS: small linear algebra is faster so, and immune to busy cores."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


def pca(features: np.ndarray, n_components: int = 2, *, seed: int = 0) -> np.ndarray:
    """Principal components in numpy (covariance or randomized SVD; sign fixed for stable plots).

    Runs with one BLAS thread: a 5,000 x 64 PCA then takes milliseconds, where threaded
    BLAS on busy cores was measured at over a second.
    """
    x = np.asarray(features, dtype=np.float32)
    x = x.reshape(len(x), -1)
    x = x - x.mean(axis=0)
    k = min(n_components, *x.shape)
    with _one_thread():
        if x.shape[1] <= 1024:
            x64 = x.astype(np.float64)
            _, vecs = np.linalg.eigh(x64.T @ x64)
            comps = vecs[:, ::-1][:, :k].T.astype(np.float32)
        else:
            rng = np.random.default_rng(seed)
            q = x @ rng.standard_normal((x.shape[1], k + 10)).astype(np.float32)
            for _ in range(3):
                q, _ = np.linalg.qr(x @ (x.T @ q))
            _, _, vt = np.linalg.svd(q.T @ x, full_matrices=False)
            comps = vt[:k]
        out = x @ comps.T
    signs = np.sign(out[np.abs(out).argmax(axis=0), np.arange(out.shape[1])])
    return (out * np.where(signs == 0, 1, signs)).astype(np.float32)


def _busy_threads() -> float | None:
    """Runnable threads of other processes right now (Linux), else the 1-minute load."""
    try:
        samples = []
        for _ in range(5):
            with open("/proc/loadavg") as f:
                samples.append(int(f.read().split()[3].split("/")[0]) - 1)  # minus this one
            time.sleep(0.02)
        return float(np.median(samples))
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows has neither
        return None


def auto_jobs(n_points: int) -> int:
    """Threads for t-SNE: 1 for small sets, else the CPU cores that are idle right now.

    openTSNE slows down several-fold (measured: 2x at 5,000 points) when its threads
    compete with other busy processes for the same cores, so busy cores are left alone.
    """
    cores = os.cpu_count() or 1
    if n_points < 2000 or cores == 1:
        return 1
    busy = _busy_threads()
    if busy is None:
        return max(1, cores // 2)
    return max(1, min(cores, round(cores - busy)))


def _tsne_opentsne(x, perplexity, seed, n_jobs, progress):
    import openTSNE

    total = 750  # openTSNE's default: 250 early-exaggeration + 500 iterations
    done = [0]

    def report(iteration, error, embedding):
        done[0] += 25
        if progress is not None:
            progress(min(done[0], total), total)
        return False

    method = "bh" if len(x) < FFT_FROM else "fft"
    tsne = openTSNE.TSNE(
        n_components=2, perplexity=perplexity, negative_gradient_method=method, theta=BH_THETA,
        n_jobs=n_jobs, random_state=seed, verbose=False,
        callbacks=report if progress is not None else None, callbacks_every_iters=25,
    )  # fmt: skip
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=None if n_jobs == -1 else n_jobs):  # BLAS/OpenMP as well
        return np.asarray(tsne.fit(x), dtype=np.float32)


def _tsne_sklearn(x, perplexity, seed, n_jobs, progress):
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    # scikit-learn's gradient uses OpenMP on every core whatever n_jobs says; cap it too.
    with threadpool_limits(limits=None if n_jobs == -1 else n_jobs):
        tsne = TSNE(
            n_components=2, perplexity=perplexity, init="pca", random_state=seed, n_jobs=n_jobs
        )
        out = tsne.fit_transform(x)
    if progress is not None:
        progress(1, 1)
    return np.asarray(out, dtype=np.float32)


def _has_opentsne() -> bool:
    try:
        import openTSNE  # noqa: F401
    except ImportError:
        return False
    return True


def _implementation(name: str, *, warn: bool = True) -> str:
    if name not in ("auto", "opentsne", "sklearn"):
        msg = f"Unknown t-SNE implementation {name!r}. Available: ['auto', 'opentsne', 'sklearn']."
        raise ValueError(msg)
    if name != "auto":
        return name
    if not _has_opentsne():
        if not warn:
            return "sklearn"
        warnings.warn(
            "openTSNE is not installed, so t-SNE uses scikit-learn (about 3x slower). "
            "Install it with: pip install openTSNE",
            EmbeddingFallbackWarning,
            stacklevel=3,
        )
        return "sklearn"
    return "opentsne"


def _rows(features: np.ndarray) -> np.ndarray:
    x = np.asarray(features, dtype=np.float32)
    return x.reshape(len(x), -1)


def _tsne_name(x: np.ndarray, perplexity: float, seed: int, impl: str) -> str:
    settings = f"t{BH_THETA:g}-" if impl == "opentsne" else ""
    return f"tsne-{impl}-p{float(perplexity):g}-s{seed}-{settings}{_cache.array_key(x)}"


def is_cached(
    features: np.ndarray,
    *,
    method: str = "tsne",
    perplexity: float = 30.0,
    seed: int = 0,
    implementation: str = "auto",
    cache: bool = True,
) -> bool:
    """Would :func:`embed` with these arguments return at once (PCA, or a stored t-SNE)?"""
    if method == "pca":
        return True
    x = _rows(features)
    name = _tsne_name(x, perplexity, seed, _implementation(implementation, warn=False))
    return name in _cache.EMBEDDINGS or (cache and _cache.load_array(name) is not None)


def embed(
    features: np.ndarray,
    *,
    method: str = "tsne",
    perplexity: float = 30.0,
    seed: int = 0,
    implementation: str = "auto",
    cache: bool = True,
    n_jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Reduce ``(n, features)`` to ``(n, 2)`` with PCA or t-SNE.

    t-SNE runs on the first 50 principal components when there are more features (the
    usual practice; it also makes the neighbour search fast). Results are cached in
    memory and on disk (``$KERASCOURSE_CACHE`` or ``~/.cache/kerascourse``), keyed by a hash
    of the features and every parameter, so a re-run is instant.

    Args:
        features: one row per sample.
        method: ``"pca"`` or ``"tsne"``. Defaults to `"tsne"`.
        perplexity: t-SNE's effective number of neighbours; must be below
            ``(n - 1) / 3``. Defaults to `30.0`.
        seed: random seed. Defaults to `0`.
        implementation: ``"auto"`` (openTSNE, or scikit-learn with a warning when
            openTSNE is missing), ``"opentsne"`` or ``"sklearn"``. Defaults to `"auto"`.
        cache: read and write the disk cache. Defaults to `True`.
        n_jobs: CPU threads for t-SNE (-1: all). Defaults to `None`: one thread under
            2,000 points, else the cores not busy with other processes right now (see
            :func:`auto_jobs`).
        progress: called as ``progress(done, total)`` while t-SNE runs.
    """
    x = _rows(features)
    if method not in METHODS:
        msg = f"Unknown method {method!r}. Available: {list(METHODS)}."
        raise ValueError(msg)
    if len(x) < 3:
        msg = f"embed() needs at least 3 samples; got {len(x)}."
        raise ValueError(msg)
    if method == "pca":
        key = ("pca", _cache.array_key(x), seed)
        hit = _cache.EMBEDDINGS.get(key)
        return hit if hit is not None else _cache.EMBEDDINGS.put(key, pca(x, 2, seed=seed))
    limit = (len(x) - 1) / 3
    if not 0 < perplexity < limit:
        msg = (
            f"perplexity={perplexity} is too large for {len(x)} points: t-SNE needs "
            f"0 < perplexity < (n_points - 1) / 3 = {limit:.1f}. Use a smaller perplexity "
            "or more points."
        )
        raise ValueError(msg)
    impl = _implementation(implementation)
    name = _tsne_name(x, perplexity, seed, impl)
    hit = _cache.EMBEDDINGS.get(name)
    if hit is None and cache:
        hit = _cache.load_array(name)
    if hit is not None and hit.shape == (len(x), 2):
        if progress is not None:
            progress(1, 1)
        return _cache.EMBEDDINGS.put(name, hit)
    reduced = pca(x, 50, seed=seed) if x.shape[1] > 50 else x
    run = _tsne_opentsne if impl == "opentsne" else _tsne_sklearn
    out = run(
        reduced, float(perplexity), seed, auto_jobs(len(x)) if n_jobs is None else n_jobs, progress
    )
    if cache:
        _cache.save_array(name, out)
    return _cache.EMBEDDINGS.put(name, out)


def neighbours_kept(high: np.ndarray, low: np.ndarray, k: int = 10) -> float:
    """Average share of each point's `k` nearest neighbours that are still among its `k`
    nearest in the embedding (1.0: every neighbourhood kept).
    """
    from sklearn.neighbors import NearestNeighbors

    high = np.asarray(high, dtype=np.float32).reshape(len(high), -1)
    a = NearestNeighbors(n_neighbors=k + 1).fit(high).kneighbors(return_distance=False)[:, 1:]
    b = NearestNeighbors(n_neighbors=k + 1).fit(low).kneighbors(return_distance=False)[:, 1:]
    a = np.sort(a[:, :k], axis=1)
    b = np.sort(b[:, :k], axis=1)
    return float(
        np.mean(
            [np.intersect1d(r, s, assume_unique=True).size / k for r, s in zip(a, b, strict=True)]
        )
    )


def as_labels(y: Any, n: int, who: str) -> np.ndarray:
    """Integer class labels from integers or one-hot rows, checked against `n` samples."""
    y = to_numpy(y)
    if y.ndim == 2 and y.shape[1] > 1:
        y = y.argmax(axis=1)
    y = y.reshape(len(y), -1)[:, 0] if y.ndim > 1 else y
    if len(y) != n:
        msg = f"{who} needs one label per sample: x has {n} samples but y has {len(y)} labels."
        raise ValueError(msg)
    if y.dtype.kind not in "iub":
        if y.dtype.kind == "f" and np.all(np.mod(y, 1) == 0):
            y = y.astype(np.int64)
        else:
            msg = f"{who} needs integer class labels (or one-hot rows); got y of dtype {y.dtype}."
            raise ValueError(msg)
    return y.astype(np.int64)


_SCATTERS = _cache.LRU(maxsize=8)


def _disk(radius: int) -> tuple[np.ndarray, np.ndarray]:
    dy, dx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    inside = dy**2 + dx**2 <= radius**2 + radius * 0.5
    return dy[inside], dx[inside]


def _scatter_base(pts, labels, names, size, radius, title) -> tuple[np.ndarray, np.ndarray, int]:
    """The map without a selection (cached: only the ring changes when a point is picked)."""
    key = (_cache.array_key(pts, labels), tuple(names), size, radius, title)
    hit = _SCATTERS.get(key)
    if hit is not None:
        return hit
    colors = _render.class_colors(max(int(labels.max()) + 1 if len(labels) else 1, len(names)))
    margin = 8 + radius
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = np.where(hi - lo > 1e-12, hi - lo, 1.0)
    xy = margin + (pts - lo) / span * (size - 2 * margin)
    xy[:, 1] = size - xy[:, 1]  # y up
    plot = np.empty((size, size, 3), dtype=np.uint8)
    plot[:] = _render.BACKGROUND
    order = np.random.default_rng(0).permutation(len(pts))  # no class always on top
    dy, dx = _disk(radius)
    rows = (np.round(xy[order, 1])[:, None] + dy[None, :]).astype(int).clip(0, size - 1)
    cols = (np.round(xy[order, 0])[:, None] + dx[None, :]).astype(int).clip(0, size - 1)
    plot[rows.ravel(), cols.ravel()] = np.repeat(colors[labels[order]], len(dy), axis=0)
    _render.frame(plot, 0, 0, size, size, width=1, color=(200, 200, 200))
    legend_w = max(_render.text_size(s, 11)[0] for s in names) + 24
    legend = np.empty((size, legend_w, 3), dtype=np.uint8)
    legend[:] = _render.BACKGROUND
    for i, name in enumerate(names[:40]):
        y = 6 + i * 16
        legend[y + 3 : y + 11, 4:12] = colors[i]
        _render.draw_text(legend, (16, y), name, size=11)
    out = _render.hstack([plot, legend], gap=4)
    top = 0
    if title:
        titled = _render.titled(out, title)
        top = titled.shape[0] - out.shape[0]
        out = titled
    return _SCATTERS.put(key, (out, xy, top))


def scatter_picture(
    points: np.ndarray,
    labels: np.ndarray,
    *,
    class_names: Sequence[str] | None = None,
    size: int = 420,
    highlight: int | None = None,
    radius: int = 2,
    title: str = "",
) -> np.ndarray:
    """2-D points coloured by class with a legend; `highlight` gets a black ring (uint8 RGB)."""
    pts = np.asarray(points, dtype=np.float32)
    labels = np.asarray(labels)
    n_classes = int(labels.max()) + 1 if len(labels) else 1
    names = list(class_names) if class_names is not None else [str(i) for i in range(n_classes)]
    base, xy, top = _scatter_base(pts, labels, names, size, radius, title)
    out = base.copy()
    if highlight is not None:
        from PIL import Image, ImageDraw

        x, y = xy[highlight]
        r = radius + 5
        pil = Image.fromarray(out)
        ImageDraw.Draw(pil).ellipse(
            (x - r, y + top - r, x + r, y + top + r), outline=(0, 0, 0), width=2
        )
        out = np.asarray(pil).copy()
    return out


def _point_panel(sample, label_text, neighbours, input_cmap, text=None) -> np.ndarray:
    """The chosen point's input (picture or text) and its nearest neighbours' inputs."""
    from .activations import input_picture

    if text is not None:
        lines = _wrap(str(text), 34)[:10]
        main = _render.placeholder(240, 16 + 15 * len(lines), lines)
    else:
        main = input_picture(sample, size=120, cmap=input_cmap)
    parts = [_render.titled(main, label_text)]
    if neighbours:
        tiles = [_render.titled(pic, lab, size=10) for pic, lab in neighbours]
        h = max(t.shape[0] for t in tiles)
        w = max(t.shape[1] for t in tiles)
        padded = np.full((len(tiles), h, w, 3), 255, dtype=np.uint8)
        for i, t in enumerate(tiles):
            padded[i, : t.shape[0], : t.shape[1]] = t
        grid = _render.grid(padded, cols=4, pad=2, background=_render.BACKGROUND)
        parts.append(_render.titled(grid, "nearest in the map"))
    return _render.vstack(parts)


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width) or [""]


class _EmbeddingState:
    """Checked inputs and the current choice; computes features and embeddings on demand."""

    def __init__(
        self,
        model,
        x,
        y,
        layer,
        method,
        perplexity,
        max_points,
        class_names,
        texts,
        point,
        seed,
        cache,
        who,
    ):
        self.model, self.who, self.seed, self.cache = model, who, seed, cache
        self.extractor, batch = prepare(model, x, who)
        labels = as_labels(y, len(batch), who)
        self.keep = subsample(len(batch), max_points, seed=seed)
        self.x, self.y = batch[self.keep], labels[self.keep]
        self.x_key = _cache.array_key(self.x)
        n_classes = int(self.y.max()) + 1
        if class_names is not None and len(class_names) < n_classes:
            msg = f"{who} got {len(class_names)} class_names but labels go up to {n_classes - 1}; pass one name per class."
            raise ValueError(msg)
        self.class_names = (
            list(class_names) if class_names is not None else [str(i) for i in range(n_classes)]
        )
        if texts is not None:
            texts = list(texts)
            if len(texts) != len(batch):
                msg = f"{who} needs one text per sample: x has {len(batch)} samples but texts has {len(texts)}."
                raise ValueError(msg)
            texts = [texts[i] for i in self.keep]
        self.texts = texts
        self.layer = (
            default_feature_layer(self.extractor)
            if layer is None
            else resolve_layer(self.extractor, layer)
        )
        if method not in METHODS:
            msg = f"Unknown method {method!r}. Available: {list(METHODS)}."
            raise ValueError(msg)
        self.method = method
        self.perplexity = float(perplexity)
        limit = (len(self.x) - 1) / 3
        if method == "tsne" and not 0 < self.perplexity < limit:
            msg = (
                f"perplexity={perplexity} is too large for {len(self.x)} points: t-SNE needs "
                f"0 < perplexity < (n_points - 1) / 3 = {limit:.1f}. Use a smaller perplexity or more points."
            )
            raise ValueError(msg)
        self.point = check_index(
            point, len(self.x), name="point", what=f"{len(self.x)} points are shown"
        )

    def features(self) -> np.ndarray:
        return self.extractor.features(self.model, self.x, self.layer, x_key=self.x_key)

    def embedding(self, method: str | None = None, progress=None) -> np.ndarray:
        return embed(
            self.features(), method=method or self.method, perplexity=self.perplexity,
            seed=self.seed, cache=self.cache, progress=progress,
        )  # fmt: skip

    def has_embedding(self) -> bool:
        """Is the current embedding already computed (memory or disk)?"""
        return is_cached(
            self.features(),
            method=self.method,
            perplexity=self.perplexity,
            seed=self.seed,
            cache=self.cache,
        )

    def title(self, method: str) -> str:
        label = "PCA" if method == "pca" else f"t-SNE (perplexity {self.perplexity:g})"
        return f"{label} of layer {self.layer!r}: {len(self.x)} points"

    def picture(self, *, method: str | None = None, points: np.ndarray | None = None, panel: bool = True,
                input_cmap: str = "gray", note: str = "") -> np.ndarray:  # fmt: skip
        method = method or self.method
        pts = self.embedding(method) if points is None else points
        scatter = scatter_picture(
            pts, self.y, class_names=self.class_names, highlight=self.point if panel else None,
            title=self.title(method) + note,
        )  # fmt: skip
        if not panel:
            return _render.border(scatter)
        from .activations import input_picture

        d = np.sum((pts - pts[self.point]) ** 2, axis=1)
        near = [int(i) for i in np.argsort(d)[1:9]]
        neighbours = [] if self.texts is not None else [
            (input_picture(self.x[i], size=48, cmap=input_cmap), self.class_names[self.y[i]]) for i in near
        ]  # fmt: skip
        label = f"point {self.point}: class {self.class_names[self.y[self.point]]}"
        text = None if self.texts is None else self.texts[self.point]
        side = _point_panel(self.x[self.point], label, neighbours, input_cmap, text)
        return _render.border(_render.hstack([scatter, side]))


def plot_embedding(
    model: Any,
    x: Any,
    y: Any,
    *,
    layer: Any = None,
    method: str = "tsne",
    perplexity: float = 30.0,
    max_points: int = MAX_POINTS,
    class_names: Sequence[str] | None = None,
    point: int | None = None,
    seed: int = 0,
    cache: bool = True,
):
    """The embedding explorer's picture as a matplotlib Figure: points coloured by class.

    Arguments mean the same as in :class:`EmbeddingExplorer`; with `point` the chosen
    sample and its nearest neighbours are shown beside the map.

    Example:
        >>> plot_embedding(mlp, x_test, y_test, layer="hidden")   # doctest: +SKIP
    """
    state = _EmbeddingState(
        model, x, y, layer, method, perplexity, max_points, class_names, None,
        0 if point is None else point, seed, cache, "plot_embedding",
    )  # fmt: skip
    img = state.picture(panel=point is not None)
    return _render.as_figure(img)


class EmbeddingExplorer(Explorer):
    """Hidden features of a layer for a labelled dataset, reduced to 2-D, coloured by class.

    Displays itself: a layer ``Dropdown``, a method ``Dropdown`` (PCA, t-SNE), a perplexity
    ``IntSlider``, a point ``IntSlider`` and the picture: the map with the chosen point
    ringed, and beside it that point's input and its 8 nearest neighbours in the map.
    (Core widgets have no mouse events on images, so a slider picks the point; this keeps
    the explorer working on Colab's ipywidgets 7.) When t-SNE has to run, the PCA map is
    shown first, with progress underneath.

    Args:
        model: a built Keras model.
        x: a batch of inputs.
        y: their class labels (integers, or one-hot rows).
        layer: layer name or object. Defaults to the last hidden layer with weights.
        method: ``"tsne"`` or ``"pca"``. Defaults to `"tsne"`.
        perplexity: t-SNE perplexity. Defaults to `30`.
        max_points: at most this many samples (a random subset) are embedded.
            Defaults to `5000`.
        class_names: names for the legend. Defaults to the label numbers.
        texts: one string per sample, shown instead of an input picture (text models).
        point: which shown point to select first. Defaults to `0`.
        seed: seed of the subset and of t-SNE. Defaults to `0`.
        cache: keep t-SNE results on disk. Defaults to `True`.
        input_cmap: colour map for grey inputs. Defaults to `"gray"`.

    Example:
        >>> EmbeddingExplorer(mlp, x_test, y_test, layer="hidden")   # doctest: +SKIP
    """

    dom_class = "kc-embedding-explorer"

    def __init__(
        self,
        model: Any,
        x: Any,
        y: Any,
        *,
        layer: Any = None,
        method: str = "tsne",
        perplexity: float = 30.0,
        max_points: int = MAX_POINTS,
        class_names: Sequence[str] | None = None,
        texts: Sequence[str] | None = None,
        point: int = 0,
        seed: int = 0,
        cache: bool = True,
        input_cmap: str = "gray",
    ) -> None:
        super().__init__()
        self.model = model
        self.input_cmap = input_cmap
        self._state = _EmbeddingState(
            model, x, y, layer, method, perplexity, max_points, class_names, texts, point,
            seed, cache, "EmbeddingExplorer",
        )  # fmt: skip
        self.layers = list(self._state.extractor.names)
        self._deferred = not self._state.has_embedding()
        self._build()

    def _layout(self) -> list[Any]:
        import ipywidgets as w

        s = self._state
        top = max(2, int(np.ceil((len(s.x) - 1) / 3)) - 1)
        layer = w.Dropdown(options=self.layers, value=s.layer, description="layer")
        method = w.Dropdown(
            options=[("PCA", "pca"), ("t-SNE", "tsne")], value=s.method, description="method"
        )
        perplexity = w.IntSlider(value=int(min(round(s.perplexity), top)), min=2, max=min(100, top),
                                 description="perplexity", continuous_update=False)  # fmt: skip
        point = w.IntSlider(
            value=s.point, min=0, max=len(s.x) - 1, description="point", continuous_update=False
        )
        self.status = w.HTML(value="")
        self.controls = {"layer": layer, "method": method, "perplexity": perplexity, "point": point}
        self._observe(layer, self._changed("layer", str))
        self._observe(method, self._changed("method", str))
        self._observe(perplexity, self._changed("perplexity", float))
        self._observe(point, self._on_point)
        return [w.HBox([layer, method]), w.HBox([perplexity, point]), self.status]

    def _progress(self, done: int, total: int) -> None:
        if self.status is not None:
            filled = int(20 * done / max(total, 1))
            bar = "&#9608;" * filled + "&#9617;" * (20 - filled)
            self.status.value = (
                f"<code>{bar}</code> t-SNE {done}/{total} iterations (PCA preview shown)"
            )

    def _changed(self, key: str, cast):
        def handler(change: dict[str, Any]) -> None:
            setattr(self._state, key, cast(change["new"]))
            self.update()

        return handler

    def _on_point(self, change: dict[str, Any]) -> None:
        self._state.point = int(change["new"])
        self.refresh()

    def update(self) -> None:
        """Redraw; if t-SNE must run, show the PCA preview first and progress meanwhile."""
        s = self._state
        if s.method == "tsne" and not s.has_embedding():
            self._show_preview()
            s.embedding(progress=self._progress)
        self._deferred = False
        self.status.value = ""
        self.refresh()

    def _show_preview(self) -> None:
        s = self._state
        self._array = s.picture(
            method="pca", input_cmap=self.input_cmap, note="  (t-SNE running...)"
        )
        self._png = _render.encode_png(self._array)
        self.image.value = self._png
        self.status.value = "t-SNE running (PCA preview shown)..."

    def refresh(self) -> None:
        if self._deferred and self._state.method == "tsne":
            self._show_preview()  # the first t-SNE runs when the explorer is displayed
            return
        super().refresh()

    def render(self) -> np.ndarray:
        return self._state.picture(input_cmap=self.input_cmap)

    def _ipython_display_(self) -> None:
        """Show the widget with the PCA preview at once, then run t-SNE and update it."""
        from IPython.display import display

        handle = display(
            widget_bundle(self._root, self._png, repr(self)), raw=True, display_id=True
        )
        if self._deferred:
            self.update()
            if handle is not None:
                handle.update(widget_bundle(self._root, self._png, repr(self)), raw=True)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, Any]:
        if self._deferred:
            self.update()
        return super()._repr_mimebundle_(include, exclude)

    def to_array(self) -> np.ndarray:
        if self._deferred:
            self.update()
        return super().to_array()

    # -- state as plain attributes ------------------------------------------------------
    @property
    def embedding_(self) -> np.ndarray:
        """The current 2-D coordinates, ``(n_points, 2)`` (computes t-SNE if needed)."""
        if self._deferred:
            self.update()
        return self._state.embedding()

    @property
    def features_(self) -> np.ndarray:
        """The shown layer's features for the shown points, ``(n_points, features)``."""
        return self._state.features()

    @property
    def labels(self) -> np.ndarray:
        """Class labels of the shown points."""
        return self._state.y

    @property
    def indices(self) -> np.ndarray:
        """Which samples of `x` are shown (all, or a random subset of `max_points`)."""
        return self._state.keep

    @property
    def layer(self) -> str:
        """The layer whose features are embedded."""
        return self._state.layer

    @layer.setter
    def layer(self, value: Any) -> None:
        self.controls["layer"].value = resolve_layer(self._state.extractor, value)

    @property
    def method(self) -> str:
        """``"pca"`` or ``"tsne"``."""
        return self._state.method

    @method.setter
    def method(self, value: str) -> None:
        if value not in METHODS:
            msg = f"Unknown method {value!r}. Available: {list(METHODS)}."
            raise ValueError(msg)
        self.controls["method"].value = value

    @property
    def perplexity(self) -> float:
        """t-SNE perplexity."""
        return self._state.perplexity

    @perplexity.setter
    def perplexity(self, value: float) -> None:
        top = self.controls["perplexity"].max
        if not 2 <= value <= top:
            msg = f"perplexity must be between 2 and {top} for {len(self._state.x)} points. Received: perplexity={value}."
            raise ValueError(msg)
        self.controls["perplexity"].value = round(value)

    @property
    def point(self) -> int:
        """The selected point (index into the shown points)."""
        return self._state.point

    @point.setter
    def point(self, value: int) -> None:
        s = self._state
        self.controls["point"].value = check_index(
            value, len(s.x), name="point", what=f"{len(s.x)} points are shown"
        )

    def __repr__(self) -> str:
        s = self._state
        return f"EmbeddingExplorer(model={self.model.name!r}, layer={s.layer!r}, method={s.method!r}, points={len(s.x)})"
