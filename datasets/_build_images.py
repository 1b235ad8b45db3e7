"""Builders for ``digits`` and ``digits28`` (scikit-learn's 8x8 handwritten digits).

Why two files: ``digits`` is the honest small dataset (pixel values 0..16, what
scikit-learn ships); ``digits28`` is the same images in the same order and splits,
upscaled to MNIST's 28x28x1 so a convnet written for MNIST runs on it unchanged, which
is what makes it the offline stand-in for ``load_online("mnist")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._build_common import SPLITS, Built, no_source
from ._splits import BUNDLE_SEED, split_indices

FRACTIONS = (0.6, 0.2, 0.2)
SIZE28 = (28, 28)


def _digits() -> tuple[Any, Any, tuple[Any, Any, Any], str]:
    """Images (uint8 0..16), labels, split indices and the source string."""
    import numpy as np
    import sklearn
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = bunch.images
    if images.min() < 0 or images.max() > 16 or not np.array_equal(images, np.round(images)):
        msg = "load_digits() no longer returns integer pixels in 0..16; check scikit-learn."
        raise ValueError(msg)
    x = images.astype(np.uint8)
    y = bunch.target.astype(np.uint8)
    splits = split_indices(len(y), FRACTIONS, BUNDLE_SEED, y)
    source = (
        f"scikit-learn {sklearn.__version__} sklearn.datasets.load_digits() -- a copy of the "
        "test part of UCI 'Optical Recognition of Handwritten Digits' (Alpaydin & Kaynak, 1998)"
    )
    return x, y, splits, source


def _arrays(x: Any, y: Any, splits: tuple[Any, Any, Any], pixel_max: int) -> dict[str, Any]:
    import numpy as np

    out: dict[str, Any] = {}
    for split, idx in zip(SPLITS, splits, strict=True):
        out[f"x_{split}"] = x[idx]
        out[f"y_{split}"] = y[idx]
    out["class_names"] = np.array([str(i) for i in range(10)])
    out["pixel_max"] = np.array(pixel_max, dtype=np.uint8)
    return out


def _counts(splits: tuple[Any, Any, Any]) -> str:
    return "/".join(f"{len(s):,}" for s in splits)


def build_digits(root: Path, source: Path | None) -> Built:
    """8x8 digits, pixel values 0..16, split 60/20/20 stratified."""
    from ._formats import npz_bytes

    no_source("digits", source)
    x, y, splits, origin = _digits()
    return Built(
        data=npz_bytes(_arrays(x, y, splits, pixel_max=16)),
        description=(
            f"{len(y):,} 8x8 grey images of handwritten digits, 10 classes, pixel values 0..16 "
            f"(load() scales them to [0, 1]); shuffled with seed {BUNDLE_SEED} and split stratified "
            f"{_counts(splits)} (train/val/test)."
        ),
        source=origin,
    )


def upscale(x: Any) -> Any:
    """uint8 images 0..16 of shape (n, 8, 8) -> uint8 0..255 of shape (n, 28, 28, 1).

    PIL's bilinear filter: smooth strokes like MNIST's anti-aliased ones, and a background
    that stays exactly 0 (bicubic would ring around the strokes).
    """
    import numpy as np
    from PIL import Image

    x255 = np.rint(x.astype(np.float64) * (255.0 / 16.0)).astype(np.uint8)
    big = [
        np.asarray(Image.fromarray(img).resize(SIZE28, Image.Resampling.BILINEAR)) for img in x255
    ]
    return np.stack(big)[..., np.newaxis]


def build_digits28(root: Path, source: Path | None) -> Built:
    """The digits upscaled to 28x28x1 uint8, same order and splits as ``digits``."""
    import PIL

    from ._formats import npz_bytes

    no_source("digits28", source)
    x, y, splits, origin = _digits()
    return Built(
        data=npz_bytes(_arrays(upscale(x), y, splits, pixel_max=255)),
        description=(
            f"The {len(y):,} digits of 'digits' upscaled to 28x28x1 (MNIST's shape), pixel "
            "values 0..255 (load() scales them to [0, 1]); same order and splits "
            f"{_counts(splits)}. The offline stand-in for load_online('mnist')."
        ),
        source=f"{origin}; pixels x255/16, resized with Pillow {PIL.__version__} bilinear",
    )
