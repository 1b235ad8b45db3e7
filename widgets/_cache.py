"""Keys and stores for the explorers' caches: array hashes, weight checksums, disk files.

Why a module: the pure functions cache by (model, layer, input) in memory and embeddings
on disk, and all of them must agree on what "the same input" and "the same weights" mean.
An input is identified by a hash of its bytes, shape and dtype; a model's weights by a
cheap checksum (one sum per variable, sampled for big ones), so training or
``set_weights`` invalidates cached activations without anyone having to clear them.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

CACHE_ENV = "KERASCOURSE_CACHE"


def array_key(*arrays: Any) -> str:
    """A short hex digest of arrays' bytes, shapes and dtypes (same data -> same key)."""
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.shape}|{a.dtype.str}|".encode())
        h.update(memoryview(a).cast("B") if a.size else b"")
    return h.hexdigest()


def weights_key(model: Any) -> tuple[float, ...]:
    """A checksum of a model's weights: one float sum per variable.

    Variables over 65,536 entries are summed over about 4,096 evenly spaced entries, so
    the key costs a few milliseconds even for a VGG-sized model (a full sum of 50 million
    weights took 10 ms). Training, ``set_weights`` or ``load_weights`` change it.
    """
    from keras import ops

    key = []
    for v in model.weights:
        size = int(np.prod(v.shape))
        flat = ops.reshape(v, (-1,))
        if size > 1 << 16:
            flat = flat[:: size // 4096]
        key.append(float(ops.convert_to_numpy(ops.sum(ops.cast(flat, "float32")))))
    return tuple(key)


class LRU(OrderedDict):
    """A small least-recently-used dict (explorer caches hold big activation arrays)."""

    def __init__(self, maxsize: int = 8) -> None:
        super().__init__()
        self.maxsize = maxsize

    def get(self, key: Any, default: Any = None) -> Any:
        if key in self:
            self.move_to_end(key)
            return self[key]
        return default

    def put(self, key: Any, value: Any) -> Any:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.maxsize:
            self.popitem(last=False)
        return value


#: In-memory embeddings (PCA previews and t-SNE maps) by key, shared by ``embeddings``'s
#: functions; ``clear_caches()`` empties it. Here, below the explorers, so that clearing it
#: needs no import of the explorer modules (which import ``_models``).
EMBEDDINGS = LRU(maxsize=16)
#: ``filters``'s maximised-activation patterns and receptive fields: model -> {settings
#: key: result}; weak keys, so a deleted model takes its entries with it.
PATTERNS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def cache_dir() -> Path:
    """Where embeddings are stored: ``$KERASCOURSE_CACHE`` or ``~/.cache/kerascourse``.

    The ``embeddings`` subfolder is created on first write.
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "kerascourse"


def load_array(name: str) -> np.ndarray | None:
    """A cached array by file stem, or None when absent or unreadable."""
    path = cache_dir() / "embeddings" / f"{name}.npy"
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None


def save_array(name: str, array: np.ndarray) -> Path | None:
    """Write atomically (temp file, then rename); return the path, or None if not writable."""
    folder = cache_dir() / "embeddings"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.save(f, np.asarray(array), allow_pickle=False)
        final = folder / f"{name}.npy"
        os.replace(tmp, final)
        return final
    except OSError:
        return None
