"""Small models and data for the kerascourse.widgets tests (built once per session).

The models are tiny and untrained (seeded weights): the tests check what the explorers
compute and show, not what a network learns. Every model kind the explorers accept is
here: functional, Sequential with and without ``Input``, nested, subclassed.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

#: The ipywidgets-7 run (test_widgets_ipywidgets7.py) sets this to "7".
EXPECT_ENV = "KERASCOURSE_EXPECT_IPYWIDGETS"


@pytest.fixture(scope="session", autouse=True)
def _embedding_cache(tmp_path_factory):
    """Keep the t-SNE disk cache of the tests out of the learner's ~/.cache."""
    old = os.environ.get("KERASCOURSE_CACHE")
    os.environ["KERASCOURSE_CACHE"] = str(tmp_path_factory.mktemp("kc-cache"))
    yield
    if old is None:
        os.environ.pop("KERASCOURSE_CACHE", None)
    else:
        os.environ["KERASCOURSE_CACHE"] = old


@pytest.fixture(scope="session")
def keras():
    import keras

    keras.utils.set_random_seed(0)
    return keras


@pytest.fixture(scope="session")
def images():
    """32 bundled 28x28x1 digits and their labels."""
    from kerascourse import datasets

    data = datasets.load("digits28")
    return data.x_train[:32], data.y_train[:32]


@pytest.fixture(scope="session")
def cnn(keras):
    """A functional convnet: conv1 (4) -> pool1 -> conv2 (8) -> flatten -> hidden (8) -> out."""
    from keras import layers

    inputs = keras.Input((28, 28, 1), name="image")
    x = layers.Conv2D(4, 3, activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(name="pool1")(x)
    x = layers.Conv2D(8, 3, activation="relu", name="conv2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(8, activation="relu", name="hidden")(x)
    outputs = layers.Dense(10, activation="softmax", name="out")(x)
    return keras.Model(inputs, outputs, name="cnn")


@pytest.fixture(scope="session")
def mlp(keras):
    """A Sequential MLP on 8x8 digits, with Input: flatten -> hidden (16) -> out (10)."""
    from keras import layers

    return keras.Sequential(
        [keras.Input((8, 8)), layers.Flatten(name="pixels"),
         layers.Dense(16, activation="relu", name="hidden"),
         layers.Dense(10, activation="softmax", name="out")],
        name="mlp",
    )  # fmt: skip


@pytest.fixture(scope="session")
def digits():
    """All 1,797 bundled 8x8 digits (train + val + test) and labels."""
    from kerascourse import datasets

    d = datasets.load("digits")
    return np.concatenate([d.x_train, d.x_val, d.x_test]), np.concatenate(
        [d.y_train, d.y_val, d.y_test]
    )


@pytest.fixture(scope="session")
def seq_no_input(keras, images):
    """A Sequential model with no Input, built by calling it once."""
    from keras import layers

    model = keras.Sequential(
        [layers.Conv2D(3, 3, activation="relu", name="c1"), layers.Flatten(name="f"),
         layers.Dense(5, name="d")],
        name="seq_no_input",
    )  # fmt: skip
    model(images[0][:2])
    return model


@pytest.fixture(scope="session")
def nested(keras):
    """A functional model whose middle layer is a Sequential model (a nested model)."""
    from keras import layers

    block = keras.Sequential(
        [keras.Input((26, 26, 4)), layers.Conv2D(6, 3, activation="relu", name="inner_conv"),
         layers.MaxPooling2D(name="inner_pool")],
        name="block",
    )  # fmt: skip
    inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(4, 3, activation="relu", name="stem")(inputs)
    x = block(x)
    outputs = layers.Dense(3, name="head")(layers.Flatten(name="flat")(x))
    return keras.Model(inputs, outputs, name="nested")


def _subclassed(keras, residual: bool):
    from keras import layers

    class Chain(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.conv = layers.Conv2D(3, 3, activation="relu", name="sub_conv")
            self.flat = layers.Flatten(name="sub_flat")
            self.dense = layers.Dense(4, name="sub_dense")

        def call(self, x):
            return self.dense(self.flat(self.conv(x)))

    class Residual(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.conv = layers.Conv2D(1, 3, padding="same", name="res_conv")
            self.flat = layers.Flatten(name="res_flat")

        def call(self, x):
            return self.flat(self.conv(x) + x)

    return Residual(name="residual") if residual else Chain(name="chain")


@pytest.fixture(scope="session")
def chain(keras, images):
    """A subclassed model whose layers form a plain chain, built by calling it."""
    model = _subclassed(keras, residual=False)
    model(images[0][:1])
    return model


@pytest.fixture(scope="session")
def residual(keras, images):
    """A subclassed model with a skip connection (not a chain), built by calling it."""
    model = _subclassed(keras, residual=True)
    model(images[0][:1])
    return model


@pytest.fixture(scope="session")
def ipywidgets_major() -> int:
    """The ipywidgets major version these tests run with (7 or 8)."""
    import ipywidgets

    major = int(ipywidgets.__version__.split(".")[0])
    expected = os.environ.get(EXPECT_ENV)
    if expected is not None:
        assert major == int(expected), (
            f"expected ipywidgets {expected}, imported {ipywidgets.__file__}"
        )
    return major
