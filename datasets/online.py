"""The real, larger datasets, downloaded through a checksummed pooch registry.

Why: the bundled sets keep every notebook runnable offline, but a full run deserves the
real MNIST, Fashion-MNIST and IMDB. They come from the same URLs as ``keras.datasets``
and are hash-checked by pooch before use (pooch hashes a temporary file and moves it into
place only if it matches). When the download is impossible the error names the bundled
alternative; ``fallback=True`` returns that alternative with an `OfflineFallbackWarning`.

The registry is plain data: `REGISTRY` maps a file name to ``"alg:hash"``, `URLS` maps it
to its URL and `ONLINE` says which files make up which dataset. Hashes are those that
``keras.datasets`` pins for the same files (keras/src/datasets/*.py).

Downloads are cached in ``$KERASCOURSE_DATA`` or else pooch's per-user cache
(``~/.cache/kerascourse`` on Linux).
"""

from __future__ import annotations

import gzip
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import (
    DataIntegrityError,
    DatasetUnavailableError,
    OfflineFallbackWarning,
    UnknownDatasetError,
    unknown_name_message,
)

if TYPE_CHECKING:
    from ._loaders import Dataset

BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
#: Seed of the train/validation split made from each official training set.
VAL_SEED = 42

REGISTRY: dict[str, str] = {
    "mnist.npz": "sha256:731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    "imdb.npz": "sha256:69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f",
    "fashion_mnist/train-labels-idx1-ubyte.gz": "sha256:a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "fashion_mnist/train-images-idx3-ubyte.gz": "sha256:3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "fashion_mnist/t10k-labels-idx1-ubyte.gz": "sha256:67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    "fashion_mnist/t10k-images-idx3-ubyte.gz": "sha256:346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
}
URLS: dict[str, str] = {name: BASE_URL + name.rsplit("/", 1)[-1] for name in REGISTRY}

FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip


@dataclass(frozen=True)
class OnlineDataset:
    """How one online dataset is fetched, read and split.

    Attributes:
        files: keys of `REGISTRY`, in the order `reader` wants them.
        reader: turns the downloaded paths into ``x_train, y_train, x_test, y_test``
            (images as uint8 arrays, sequences as lists) plus ``class_names``.
        alternative: the bundled dataset to use offline.
        val_fraction: share of the official training set held out as validation,
            stratified, with seed `VAL_SEED`.
        description: what is in it.
        licence: its licence, in words.
    """

    files: tuple[str, ...]
    reader: Callable[[list[Path]], dict[str, Any]]
    alternative: str
    val_fraction: float
    description: str
    licence: str


def cache_dir() -> Path:
    """Where downloads (and rebuild sources) are kept: ``$KERASCOURSE_DATA`` or pooch's cache."""
    from kerascourse import settings

    configured = settings.data_dir()
    if configured:
        return Path(configured)
    import pooch

    return Path(pooch.os_cache("kerascourse"))


def load_online(name: str, *, fallback: bool = False) -> Dataset:
    """Download (once), verify and load a real dataset, split into train/val/test.

    Images come back as float32 in [0, 1] with shape ``(n, 28, 28, 1)``, like
    ``load("digits28")``; IMDB reviews as lists of word indices exactly as
    ``keras.datasets.imdb.load_data()`` returns them (start 1, OOV 2, words from 3). The
    validation split is carved out of the official training set (stratified, seed
    `VAL_SEED`): MNIST/Fashion-MNIST 50,000/10,000, IMDB 20,000/5,000; the test split is
    the official one.

    Args:
        name: ``"mnist"``, ``"fashion_mnist"`` or ``"imdb"``.
        fallback: when the download fails, warn with `OfflineFallbackWarning` and return
            the bundled alternative instead of raising. Defaults to `False`.

    Raises:
        UnknownDatasetError: `name` is not in `ONLINE`.
        DatasetUnavailableError: no network (or no pooch); names the bundled alternative.
        DataIntegrityError: the download does not match its pinned hash (never falls back).

    Example:
        >>> ds = load_online("mnist", fallback=True)  # doctest: +SKIP
    """
    from ._loaders import Dataset, available, load

    if name not in ONLINE:
        hint = f"{name!r} is bundled: use load({name!r})." if name in available() else ""
        raise UnknownDatasetError(unknown_name_message("online dataset", name, ONLINE, hint))
    spec = ONLINE[name]
    try:
        paths = [_fetch(fname, name) for fname in spec.files]
    except DatasetUnavailableError as err:
        if not fallback:
            raise
        msg = (
            f"load_online({name!r}) could not download the data, so it returned the bundled "
            f'load("{spec.alternative}") instead; results will differ from the full dataset. '
            f"Cause: {err.__cause__ or err}"
        )
        warnings.warn(msg, OfflineFallbackWarning, stacklevel=2)
        return load(spec.alternative)
    arrays = spec.reader(paths)
    return Dataset(
        **_split_train(arrays, spec.val_fraction),
        class_names=arrays["class_names"],
        feature_names=None,
        name=name,
        description=spec.description,
        licence=spec.licence,
    )


def _fetch(fname: str, name: str) -> Path:
    """Path of the verified local copy of `fname`, downloading it if needed."""
    alternative = ONLINE[name].alternative
    unavailable = (
        f"Could not download {fname!r} for load_online({name!r}) from {URLS.get(fname)}. "
        f'Offline? The bundled alternative needs no network: load("{alternative}"), or call '
        f"load_online({name!r}, fallback=True) to fall back automatically."
    )
    try:
        import pooch
    except ImportError as err:
        msg = f"{unavailable} Cause: pooch is not installed (pip install pooch)."
        raise DatasetUnavailableError(msg) from err
    registry = pooch.create(
        path=cache_dir(), base_url=BASE_URL, registry=dict(REGISTRY), urls=dict(URLS)
    )
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(
        "WARNING"
    )  # pooch logs "Downloading ..." to stderr; graded cells must stay clean
    try:
        return Path(registry.fetch(fname, downloader=pooch.HTTPDownloader(progressbar=False)))
    except ValueError as err:
        if "hash" not in str(err):
            raise
        msg = (
            f"Download of {fname!r} for load_online({name!r}) failed verification: {err} "
            f"If this repeats, the file changed upstream or a proxy altered it; the bundled "
            f'load("{alternative}") works offline.'
        )
        raise DataIntegrityError(msg) from err
    except OSError as err:  # requests' errors derive from OSError, as do socket errors
        msg = f"{unavailable} Cause: {type(err).__name__}: {err}"
        raise DatasetUnavailableError(msg) from err
    finally:
        logger.setLevel(level)


def _split_train(arrays: dict[str, Any], val_fraction: float) -> dict[str, Any]:
    """x/y for train, val (a stratified share of the official train) and the official test."""
    import numpy as np

    from ._splits import split_indices

    y_all = np.asarray(arrays["y_train"]).astype(np.int64)
    train, val, _ = split_indices(
        len(y_all), (1 - val_fraction, val_fraction, 0.0), VAL_SEED, y_all
    )
    x_all = arrays["x_train"]

    def take(x: Any, idx: np.ndarray) -> Any:
        return x[idx] if isinstance(x, np.ndarray) else [x[i] for i in idx]

    return {
        "x_train": take(x_all, train),
        "y_train": y_all[train],
        "x_val": take(x_all, val),
        "y_val": y_all[val],
        "x_test": arrays["x_test"],
        "y_test": np.asarray(arrays["y_test"]).astype(np.int64),
    }


def _images(x: Any) -> Any:
    import numpy as np

    return (np.asarray(x, dtype=np.float32) / np.float32(255.0))[..., np.newaxis]


def _read_mnist_npz(paths: list[Path]) -> dict[str, Any]:
    """Keras' mnist.npz: uint8 ``x_train`` (60000, 28, 28), ``y_train``, ``x_test``, ``y_test``."""
    import numpy as np

    with np.load(paths[0], allow_pickle=False) as f:
        x_train, y_train, x_test, y_test = (
            f[k] for k in ("x_train", "y_train", "x_test", "y_test")
        )
    return {
        "x_train": _images(x_train),
        "y_train": y_train,
        "x_test": _images(x_test),
        "y_test": y_test,
        "class_names": [str(i) for i in range(10)],
    }


def _read_idx_gz(paths: list[Path]) -> dict[str, Any]:
    """Fashion-MNIST's four idx files: train labels, train images, test labels, test images."""
    import numpy as np

    def read(path: Path, offset: int) -> np.ndarray:
        with gzip.open(path, "rb") as fh:
            return np.frombuffer(fh.read(), np.uint8, offset=offset)

    y_train, y_test = read(paths[0], 8), read(paths[2], 8)
    x_train = read(paths[1], 16).reshape(len(y_train), 28, 28)
    x_test = read(paths[3], 16).reshape(len(y_test), 28, 28)
    return {
        "x_train": _images(x_train),
        "y_train": y_train,
        "x_test": _images(x_test),
        "y_test": y_test,
        "class_names": list(FASHION_CLASSES),
    }


def _read_imdb_npz(paths: list[Path]) -> dict[str, Any]:
    """Keras' imdb.npz, preprocessed like ``keras.datasets.imdb.load_data()`` defaults.

    The file holds pickled lists, so it is opened with ``allow_pickle=True`` -- only after
    pooch has matched its SHA256, which is what makes that safe.
    """
    import numpy as np

    with np.load(paths[0], allow_pickle=True) as f:
        x_train, y_train, x_test, y_test = (
            f[k] for k in ("x_train", "y_train", "x_test", "y_test")
        )
    rng = np.random.RandomState(113)  # keras' default seed, so the order matches keras
    order = np.arange(len(x_train))
    rng.shuffle(order)
    x_train, y_train = x_train[order], y_train[order]
    order = np.arange(len(x_test))
    rng.shuffle(order)
    x_test, y_test = x_test[order], y_test[order]
    start_char, index_from = 1, 3
    return {
        "x_train": [[start_char] + [w + index_from for w in seq] for seq in x_train],
        "y_train": y_train,
        "x_test": [[start_char] + [w + index_from for w in seq] for seq in x_test],
        "y_test": y_test,
        "class_names": ["negative", "positive"],
    }


ONLINE: dict[str, OnlineDataset] = {
    "mnist": OnlineDataset(
        files=("mnist.npz",),
        reader=_read_mnist_npz,
        alternative="digits28",
        val_fraction=1 / 6,
        description="MNIST handwritten digits (LeCun, Cortes & Burges): 70,000 28x28 images, "
        "10 classes; 50,000 train / 10,000 val (held out of the official 60,000) / 10,000 test.",
        licence="CC BY-SA 3.0 (Y. LeCun and C. Cortes; derived from NIST data).",
    ),
    "fashion_mnist": OnlineDataset(
        files=(
            "fashion_mnist/train-labels-idx1-ubyte.gz",
            "fashion_mnist/train-images-idx3-ubyte.gz",
            "fashion_mnist/t10k-labels-idx1-ubyte.gz",
            "fashion_mnist/t10k-images-idx3-ubyte.gz",
        ),
        reader=_read_idx_gz,
        alternative="digits28",
        val_fraction=1 / 6,
        description="Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017): 70,000 28x28 Zalando article "
        "images, 10 classes; 50,000 train / 10,000 val / 10,000 test.",
        licence="MIT (Zalando SE).",
    ),
    "imdb": OnlineDataset(
        files=("imdb.npz",),
        reader=_read_imdb_npz,
        alternative="chinese_reviews",
        val_fraction=0.2,
        description="IMDB movie reviews (Maas et al., ACL 2011) as word-index sequences, "
        "labels 0 negative / 1 positive; 20,000 train / 5,000 val / 25,000 test.",
        licence="No licence stated by the authors; cite Maas et al. (2011), "
        "'Learning Word Vectors for Sentiment Analysis'.",
    ),
}
