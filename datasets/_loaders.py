"""``load()`` and friends: bundled files in, ready-to-train arrays out.

Why the conversions live here and not in the files: the files keep the compact, exact
form (uint8 pixels, float64 tabular values as scikit-learn ships them), and every chapter
gets the same model-ready form: images float32 in [0, 1], labels int64, tabular features
float32 and *unscaled* (fitting a scaler on the training split only is a lesson).

``image_folder()`` (the same zip extracted as PNG folders) lives in ``_folders``; this
module imports nothing of ``online`` or ``_folders``, which both build on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import _manifest
from ._errors import UnknownDatasetError, unknown_name_message

_RESOURCE_HINTS = {
    "wordlist": "It is a word list, not a dataset: use stopwords_zh().",
    "font": "It is a font, not a dataset: use cjk_font_path() or use_cjk_font().",
    "weights": "It is a set of model weights, not a dataset: use pretrained_base().",
}


@dataclass(frozen=True, eq=False)
class Dataset:
    """A dataset split three ways, with the facts needed to use and credit it.

    Attributes:
        x_train, y_train, x_val, y_val, x_test, y_test: the splits. Images are float32
            in [0, 1]; texts are lists of str; labels are int64 (classification) or
            float32 (regression).
        class_names: label ``i`` is ``class_names[i]``; None for regression.
        feature_names: column names of tabular data; None otherwise.
        name: the registry name, e.g. ``"digits"``.
        description: what is in it and how it was split.
        licence: the licence of the data, in words.

    Equality is identity (arrays have no single truth value), and the repr stays short.
    """

    x_train: Any
    y_train: Any
    x_val: Any
    y_val: Any
    x_test: Any
    y_test: Any
    class_names: list[str] | None
    feature_names: list[str] | None
    name: str
    description: str
    licence: str

    @property
    def train(self) -> tuple[Any, Any]:
        """``(x_train, y_train)``."""
        return self.x_train, self.y_train

    @property
    def val(self) -> tuple[Any, Any]:
        """``(x_val, y_val)``."""
        return self.x_val, self.y_val

    @property
    def test(self) -> tuple[Any, Any]:
        """``(x_test, y_test)``."""
        return self.x_test, self.y_test

    def __repr__(self) -> str:
        sizes = f"train={len(self.y_train)}, val={len(self.y_val)}, test={len(self.y_test)}"
        shape = getattr(self.x_train, "shape", None)
        x = f"x={tuple(shape[1:])} {self.x_train.dtype}" if shape is not None else "x=list[str]"
        classes = f", classes={len(self.class_names)}" if self.class_names else ""
        return f"Dataset({self.name!r}, {sizes}, {x}{classes})"


def available() -> list[str]:
    """Names of the bundled datasets that `load()` accepts, sorted.

    Example:
        >>> "digits" in available()
        True
    """
    return sorted(e.name for e in _manifest.manifest() if e.kind in _manifest.DATASET_KINDS)


def load(name: str) -> Dataset:
    """Load a bundled dataset, verified against MANIFEST.json. No network, no subsampling.

    FAST mode is the notebook's business: ``settings.subset(x_train, y_train, fast=512)``
    (the files are stored shuffled, so the first rows are a fair sample).

    Args:
        name: one of `available()`, e.g. ``"digits"``.

    Raises:
        UnknownDatasetError: `name` is not a bundled dataset (the message suggests one).
        MissingDataError, DataIntegrityError: the file is gone or altered; the message
            names the rebuild command.

    Example:
        >>> ds = load("digits")
        >>> ds.x_train.shape[1:], ds.x_train.dtype.name
        ((8, 8), 'float32')
    """
    entries = {e.name: e for e in _manifest.manifest()}
    item = entries.get(name) if isinstance(name, str) else None
    if item is None or item.kind not in _manifest.DATASET_KINDS:
        hint = _RESOURCE_HINTS.get(item.kind, "") if item is not None else ""
        msg = unknown_name_message("dataset", name, available(), hint)
        raise UnknownDatasetError(msg)
    path = _manifest.check_file(item)
    fields = _READERS[item.kind](path)
    return Dataset(**fields, name=item.name, description=item.description, licence=item.licence)


def stopwords_zh() -> frozenset[str]:
    """The bundled Chinese stop words (snownlp, MIT), e.g. ``'的'``, ``'了'``, ``'是'``.

    Example:
        >>> "的" in stopwords_zh()
        True
    """
    path = _manifest.verified_path("chinese_stopwords")
    return frozenset(w for w in path.read_text(encoding="utf-8").split("\n") if w)


def _splits_of(arrays: dict[str, Any], convert: Callable[[str, Any], Any]) -> dict[str, Any]:
    """``x_train`` ... ``y_test`` of `arrays`, each passed through ``convert("x" | "y", a)``."""
    return {
        f"{xy}_{split}": convert(xy, arrays[f"{xy}_{split}"])
        for split in ("train", "val", "test")
        for xy in ("x", "y")
    }


def _names(arrays: dict[str, Any], key: str) -> list[str] | None:
    return [str(s) for s in arrays[key]] if key in arrays else None


def _read_image_zip(path: Path) -> dict[str, Any]:
    """Arrays from a zip of ``<top>/<split>/<class>/<index>.png``, in index order."""
    import io
    import zipfile

    import numpy as np
    from PIL import Image

    with zipfile.ZipFile(path) as zf:
        rows = []
        for info in zf.infolist():
            if info.is_dir():
                continue
            _, split, cls, fname = info.filename.split("/")
            image = np.asarray(Image.open(io.BytesIO(zf.read(info))).convert("L"))
            rows.append((split, int(fname.split(".")[0]), cls, image))
    class_names = sorted({cls for _, _, cls, _ in rows})
    index = {c: i for i, c in enumerate(class_names)}
    out: dict[str, Any] = {}
    for split in ("train", "val", "test"):
        chosen = sorted((r for r in rows if r[0] == split), key=lambda r: r[1])
        x = np.stack([r[3] for r in chosen])[..., np.newaxis]
        out[f"x_{split}"] = x.astype(np.float32) / np.float32(255)
        out[f"y_{split}"] = np.array([index[r[2]] for r in chosen], dtype=np.int64)
    return {**out, "class_names": class_names, "feature_names": None}


def _read_images(path: Path) -> dict[str, Any]:
    import numpy as np

    from ._formats import read_npz

    if path.suffix == ".zip":
        return _read_image_zip(path)

    arrays = read_npz(path)
    scale = np.float32(arrays["pixel_max"])

    def convert(xy: str, a: Any) -> Any:
        return a.astype(np.float32) / scale if xy == "x" else a.astype(np.int64)

    return {
        **_splits_of(arrays, convert),
        "class_names": _names(arrays, "class_names"),
        "feature_names": None,
    }


def _read_tabular(path: Path) -> dict[str, Any]:
    import numpy as np

    from ._formats import read_npz

    arrays = read_npz(path)
    classification = "class_names" in arrays

    def convert(xy: str, a: Any) -> Any:
        if xy == "x":
            return a.astype(np.float32)
        return a.astype(np.int64 if classification else np.float32)

    return {
        **_splits_of(arrays, convert),
        "class_names": _names(arrays, "class_names"),
        "feature_names": _names(arrays, "feature_names"),
    }


def _read_text(path: Path) -> dict[str, Any]:
    import numpy as np

    from ._formats import read_reviews

    out: dict[str, Any] = {}
    rows = read_reviews(path)
    for split in ("train", "val", "test"):
        chosen = [(label, text) for s, label, text in rows if s == split]
        out[f"x_{split}"] = [text for _, text in chosen]
        out[f"y_{split}"] = np.array([label for label, _ in chosen], dtype=np.int64)
    return {**out, "class_names": ["negative", "positive"], "feature_names": None}


_READERS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "images": _read_images,
    "tabular": _read_tabular,
    "text": _read_text,
}
