"""Builders for ``diabetes`` (regression) and ``breast_cancer`` (classification).

Why these two: small, real, with meaningful feature names, and both ship inside
scikit-learn, so they rebuild offline. The values are stored unscaled (diabetes with
``scaled=False``): fitting a scaler on the training split only is part of the lesson.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._build_common import SPLITS, Built, no_source
from ._splits import BUNDLE_SEED, split_indices

FRACTIONS = (0.6, 0.2, 0.2)


def _arrays(x: Any, y: Any, splits: tuple[Any, Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for split, idx in zip(SPLITS, splits, strict=True):
        out[f"x_{split}"] = x[idx]
        out[f"y_{split}"] = y[idx]
    return out


def _counts(splits: tuple[Any, Any, Any]) -> str:
    return "/".join(f"{len(s):,}" for s in splits)


def build_diabetes(root: Path, source: Path | None) -> Built:
    """442 patients, 10 baseline variables, target: disease progression after one year."""
    import numpy as np
    import sklearn
    from sklearn.datasets import load_diabetes

    from ._formats import npz_bytes

    no_source("diabetes", source)
    bunch = load_diabetes(scaled=False)
    x = bunch.data.astype("<f8")
    y = bunch.target.astype("<f8")
    splits = split_indices(len(y), FRACTIONS, BUNDLE_SEED)
    arrays = _arrays(x, y, splits)
    arrays["feature_names"] = np.array(bunch.feature_names)
    return Built(
        data=npz_bytes(arrays),
        description=(
            f"Regression: {len(y)} diabetes patients, {x.shape[1]} unscaled baseline features "
            "(age, sex, bmi, bp, s1..s6 serum measurements); target: a quantitative measure of "
            f"disease progression one year later (25..346). Shuffled with seed {BUNDLE_SEED}, "
            f"split {_counts(splits)} (train/val/test)."
        ),
        source=(
            f"scikit-learn {sklearn.__version__} sklearn.datasets.load_diabetes(scaled=False); "
            "data of Efron, Hastie, Johnstone & Tibshirani (2004), 'Least Angle Regression', "
            "Annals of Statistics 32(2)"
        ),
    )


def build_breast_cancer(root: Path, source: Path | None) -> Built:
    """569 tumours, 30 features of cell nuclei, malignant (0) or benign (1)."""
    import numpy as np
    import sklearn
    from sklearn.datasets import load_breast_cancer

    from ._formats import npz_bytes

    no_source("breast_cancer", source)
    bunch = load_breast_cancer()
    x = bunch.data.astype("<f8")
    y = bunch.target.astype(np.uint8)
    splits = split_indices(len(y), FRACTIONS, BUNDLE_SEED, y)
    arrays = _arrays(x, y, splits)
    arrays["feature_names"] = np.array(bunch.feature_names)
    arrays["class_names"] = np.array(bunch.target_names)
    counts = np.bincount(y)
    return Built(
        data=npz_bytes(arrays),
        description=(
            f"Binary classification: {len(y)} breast masses, {x.shape[1]} unscaled features of "
            f"cell nuclei from digitised images; label 0 = malignant ({counts[0]}), "
            f"1 = benign ({counts[1]}). Shuffled with seed {BUNDLE_SEED}, split stratified "
            f"{_counts(splits)} (train/val/test)."
        ),
        source=(
            f"scikit-learn {sklearn.__version__} sklearn.datasets.load_breast_cancer(); UCI "
            "'Breast Cancer Wisconsin (Diagnostic)' (Wolberg, Street & Mangasarian, 1995)"
        ),
    )
