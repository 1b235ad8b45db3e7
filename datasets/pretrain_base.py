"""The small convolutional base of chapter 5, pretrained on ``digits28`` (the source task).

Why the course trains its own: the ImageNet weights of ``keras.applications`` are tens
to hundreds of MB and need the network, so offline the chapter transfers a base that this
module pretrains on the bundled digits, to a different bundled task (``letters``). The
architecture mirrors the applications on a small scale: named blocks of Conv2D (no bias)
-> BatchNormalization -> ReLU, max pooling between them, global average pooling on top::

    image (28, 28, 1), values in [0, 1]
    block1_conv 32 -> block1_bn -> block1_relu -> block1_pool    14x14x32
    block2_conv 64 -> block2_bn -> block2_relu -> block2_pool     7x7x64
    block3_conv 128 -> block3_bn -> block3_relu                   7x7x128  (pooling=None)
    avg_pool                                                      128      (the default)
    top_dropout -> predictions                                    10 digits (include_top)

The bundled file ``data/digits_base.weights.h5`` holds the weights of the whole source
classifier (base and digit head), so the source-task accuracy can be checked from the
file alone; `pretrained_base()` returns the base (by default the 128 averaged features of
block 3, with ``pooling=None`` its 7x7x128 feature map), or with ``include_top=True`` the
classifier.

Why not ``base.save_weights`` of the base alone, or ``.keras``: a ``.weights.h5`` file is
what ``model.load_weights`` reads in every Keras 3 backend, holds no code, and its bytes
are reproducible (h5py writes no timestamps into it; checked by rebuilding twice).

Rebuild (trains for about half a minute on 2 CPU cores, seeded):
``python -m kerascourse.datasets rebuild digits_base``. Running this module,
``python -m kerascourse.datasets.pretrain_base``, evaluates the bundled weights on the
source task instead (``--rebuild`` does the rebuild).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._splits import BUNDLE_SEED

NAME = "digits_base"
SOURCE = "digits28"
INPUT_SHAPE = (28, 28, 1)
FILTERS = (32, 64, 128)
BN_MOMENTUM = 0.9
EPOCHS = 15
BATCH_SIZE = 32
LEARNING_RATE = 1e-3
DROPOUT = 0.3


def build_classifier(name: str = "digits_classifier", num_classes: int = 10) -> Any:
    """The source classifier: the base's blocks, ``avg_pool``, dropout and a softmax.

    Weights are freshly initialised (from Keras' global seed).
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=INPUT_SHAPE, name="image")
    x = inputs
    for block, filters in enumerate(FILTERS, start=1):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False,
                          name=f"block{block}_conv")(x)  # fmt: skip
        x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"block{block}_bn")(x)
        x = layers.Activation("relu", name=f"block{block}_relu")(x)
        if block < len(FILTERS):
            x = layers.MaxPooling2D(name=f"block{block}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dropout(DROPOUT, name="top_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def weights_path() -> Path:
    """The bundled weights file, checked against MANIFEST.json."""
    from ._manifest import verified_path

    return verified_path(NAME)


def pretrained_base(
    weights: str | None = SOURCE,
    include_top: bool = False,
    pooling: str | None = "avg",
    name: str = NAME,
) -> Any:
    """A fresh Keras model of the chapter-5 base, with the weights pretrained on digits28.

    Like ``keras.applications.VGG16(weights=..., include_top=..., pooling=...)``: every
    call builds new layers, so two calls give two independent models. Unlike there, the
    default is the pooled feature vector (``pooling="avg"``); ``pooling=None`` gives the
    last feature map.

    Args:
        weights: ``"digits28"`` for the bundled pretrained weights, or None for a random
            initialisation (from Keras' global seed: call
            ``keras.utils.set_random_seed`` first). Defaults to `"digits28"`.
        include_top: return the whole 10-digit source classifier (the base, then
            ``avg_pool``, ``top_dropout`` and ``predictions``) instead of the base; then
            `pooling` is ignored. Defaults to `False`.
        pooling: ``"avg"`` for the global average of the last feature map,
            ``(None, 128)`` (layer ``avg_pool``), or None for the map itself,
            ``(None, 7, 7, 128)`` (``block3_relu``). Defaults to `"avg"`.
        name: the model's name. Defaults to `"digits_base"`.

    Returns:
        A functional ``keras.Model`` taking ``(None, 28, 28, 1)`` float images in [0, 1]
        (``load("digits28")`` and ``load("letters")`` give exactly that). Its layers:
        ``image``, ``block1_conv``, ``block1_bn``, ``block1_relu``, ``block1_pool``,
        ``block2_conv``, ``block2_bn``, ``block2_relu``, ``block2_pool``, ``block3_conv``,
        ``block3_bn``, ``block3_relu`` (and ``avg_pool``). All trainable.

    Raises:
        ValueError: `weights` or `pooling` has another value.
        MissingDataError, DataIntegrityError: the weights file is missing or altered.

    Example:
        >>> base = pretrained_base()  # doctest: +SKIP
        >>> base.output_shape, pretrained_base(pooling=None).output_shape  # doctest: +SKIP
        ((None, 128), (None, 7, 7, 128))
        >>> base.get_layer("block1_conv").trainable = False  # doctest: +SKIP
    """
    import keras

    if weights not in (SOURCE, None):
        msg = (
            f"weights must be {SOURCE!r} (the bundled pretrained weights) or None (random). "
            f"Received: weights={weights!r}"
        )
        raise ValueError(msg)
    if pooling not in (None, "avg"):
        msg = f"pooling must be None or 'avg'. Received: pooling={pooling!r}"
        raise ValueError(msg)
    classifier = build_classifier(name=name if include_top else f"{name}_classifier")
    if weights is not None:
        classifier.load_weights(weights_path())
    if include_top:
        return classifier
    last = classifier.get_layer("avg_pool" if pooling == "avg" else "block3_relu")
    return keras.Model(classifier.inputs, last.output, name=name)


@dataclass(frozen=True)
class TrainResult:
    """What `train` produced: the weights file's bytes and the facts for MANIFEST.json."""

    weights: bytes
    epochs: int
    seed: int
    n_train: int
    val_correct: int
    n_val: int
    test_correct: int
    n_test: int
    seconds: float
    versions: str
    base_params: int

    def description(self) -> str:
        acc = self.test_correct / self.n_test
        return (
            f"Weights of the chapter-5 convolutional base (3 blocks Conv2D-BN-ReLU with "
            f"32/64/128 filters, {self.base_params:,} weights) and of its 10-digit head "
            "(global average pooling, dropout, softmax), pretrained on the "
            f"{self.n_train:,} training images of digits28. Source-task accuracy: {acc:.3f} "
            f"on the digits28 test split ({self.test_correct}/{self.n_test}; validation "
            f"{self.val_correct}/{self.n_val}). Load with pretrained_base() (the base) or "
            "pretrained_base(include_top=True) (the digit classifier)."
        )

    def provenance(self) -> str:
        return (
            f"Trained by kerascourse.datasets.pretrain_base on digits28: seed {self.seed}, "
            f"{self.epochs} epochs, batch {BATCH_SIZE}, Adam {LEARNING_RATE:g}, "
            f"sparse categorical cross-entropy, no augmentation; {self.versions}"
        )


def _versions() -> str:
    import importlib.metadata as md

    import keras

    parts = [f"Keras {keras.__version__} ({keras.backend.backend()} backend)"]
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        parts.append(f"TensorFlow {tf.__version__}")
    parts.append(f"h5py {md.version('h5py')}")
    return ", ".join(parts)


def _correct(model: Any, x: Any, y: Any) -> int:
    import numpy as np

    proba = model.predict(x, batch_size=256, verbose=0)
    return int(np.sum(np.argmax(proba, axis=-1) == y))


def train(epochs: int = EPOCHS, seed: int = BUNDLE_SEED) -> TrainResult:
    """Train the source classifier on digits28, seeded; return the weights and the facts.

    Deterministic for a given machine and library versions (TensorFlow's op determinism
    is switched on for the process).
    """
    import keras

    from ._loaders import load

    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    data = load(SOURCE)
    model = build_classifier()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=False,
    )
    start = time.perf_counter()
    model.fit(data.x_train, data.y_train, epochs=epochs, batch_size=BATCH_SIZE, verbose=0)
    seconds = time.perf_counter() - start
    # Save from an uncompiled copy: save_weights() of a compiled model also writes the
    # optimizer's state (here twice the size of the weights), which nobody needs.
    plain = build_classifier()
    plain.set_weights(model.get_weights())
    with tempfile.TemporaryDirectory(prefix="kerascourse-base-") as tmp:
        path = Path(tmp) / f"{NAME}.weights.h5"
        plain.save_weights(path)
        weights = path.read_bytes()
    return TrainResult(
        weights=weights, epochs=epochs, seed=seed, n_train=len(data.y_train),
        val_correct=_correct(model, data.x_val, data.y_val), n_val=len(data.y_val),
        test_correct=_correct(model, data.x_test, data.y_test), n_test=len(data.y_test),
        seconds=seconds, versions=_versions(),
        base_params=sum(layer.count_params() for layer in model.layers
                        if layer.name.startswith("block")),
    )  # fmt: skip


def evaluate_bundled() -> tuple[int, int]:
    """(correct, total) of the bundled classifier on the digits28 test split."""
    from ._loaders import load

    data = load(SOURCE)
    model = pretrained_base(include_top=True)
    return _correct(model, data.x_test, data.y_test), len(data.y_test)


def main(argv: Sequence[str] | None = None) -> int:
    """Evaluate the bundled weights on the source task, or (``--rebuild``) retrain them."""
    parser = argparse.ArgumentParser(
        prog="python -m kerascourse.datasets.pretrain_base",
        description="Evaluate (default) or retrain (--rebuild) the chapter-5 digits base.",
    )
    parser.add_argument("--rebuild", action="store_true",
                        help="retrain and rewrite data/digits_base.weights.h5 and its entry")  # fmt: skip
    args = parser.parse_args(argv)
    if args.rebuild:
        from .__main__ import main as datasets_main

        return datasets_main(["rebuild", NAME])
    correct, total = evaluate_bundled()
    sys.stdout.write(
        f"{NAME}: {correct}/{total} = {correct / total:.3f} on the digits28 test split\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
