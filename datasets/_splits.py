"""Seeded, stratified train/val/test index splits.

Why our own and not ``train_test_split``: the bundle must come out byte-identical on every
machine and every scikit-learn release, so the split is a few lines of numpy whose only
randomness is ``np.random.default_rng(seed).permutation`` (PCG64, stable across numpy
releases). Per class, counts are rounded half up, and the training split takes the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

#: Seed of every split in the bundle. A constant on purpose: it never follows
#: KERASCOURSE_SEED, so the bundled files are the same bytes for everyone.
BUNDLE_SEED = 42


def split_indices(
    n: int,
    fractions: tuple[float, float, float],
    seed: int,
    labels: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shuffled index arrays ``(train, val, test)`` covering ``range(n)`` exactly once.

    Args:
        n: number of samples.
        fractions: (train, val, test) shares; they must sum to 1.
        seed: seed of the numpy Generator. The bundle uses a constant, never the
            course seed, so that the data are the same for everyone.
        labels: class label per sample to stratify on, or None for a plain shuffled
            split (regression). Defaults to `None`.

    Example:
        >>> train, val, test = split_indices(10, (0.6, 0.2, 0.2), seed=0)
        >>> len(train), len(val), len(test)
        (6, 2, 2)
    """
    import numpy as np

    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-9:
        msg = (
            "fractions must be three non-negative shares (train, val, test) summing to 1. "
            f"Received: fractions={fractions}"
        )
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    groups = (
        [np.arange(n)]
        if labels is None
        else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    )
    parts: list[list[np.ndarray]] = [[], [], []]
    for group in groups:
        shuffled = rng.permutation(group)
        n_val = int(np.floor(len(group) * fractions[1] + 0.5))
        n_test = int(np.floor(len(group) * fractions[2] + 0.5))
        n_train = len(group) - n_val - n_test
        parts[0].append(shuffled[:n_train])
        parts[1].append(shuffled[n_train : n_train + n_val])
        parts[2].append(shuffled[n_train + n_val :])
    train, val, test = (rng.permutation(np.concatenate(p)).astype(np.int64) for p in parts)
    return train, val, test
