"""Quality: rebuild from JSON with safe_mode, train with a seed, measure with numpy."""

from __future__ import annotations

import json
import re
import warnings

import keras
import numpy as np
import pytest
from kerascourse.autograder import ArchitectureError, GraderBugError, QualityError
from kerascourse.autograder.checks.quality import accuracy, check_quality, mse
from kerascourse.autograder.checks.rebuild import rebuild_model
from kerascourse.autograder.checks.training import train_with_seed


@pytest.fixture
def restore_op_determinism():
    """train_with_seed turns TF op determinism on process-wide; undo it after the test."""
    yield
    if keras.backend.backend() == "tensorflow":
        from tensorflow.python.framework import config as tf_config

        tf_config.disable_op_determinism()


def _mlp(name="out"):
    inputs = keras.Input((8,), name="x")
    x = keras.layers.Dense(6, activation="relu", name="hidden")(inputs)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name=name)(x))


def _data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype("float32")
    return x, rng.integers(0, 3, size=n)


def test_rebuild_round_trip_gives_identical_predictions():
    """Does a rebuilt model given the same weights predict exactly the same?"""
    model = _mlp()
    rebuilt = rebuild_model(model.to_json())
    rebuilt.set_weights(model.get_weights())
    x, _ = _data(8)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(rebuilt(x)), keras.ops.convert_to_numpy(model(x))
    )


def test_rebuild_accepts_many_built_in_layers():
    """Is a model of many built-in layers, objects and dict I/O rebuilt (no false refusals)?"""
    layers = keras.layers
    image = keras.Input((8, 8, 3), name="image")
    tokens = keras.Input((5,), name="tokens", dtype="int32")
    x = layers.Rescaling(1 / 255)(image)
    x = layers.Conv2D(
        4,
        3,
        activation="gelu",
        kernel_regularizer=keras.regularizers.L2(1e-4),
        kernel_constraint=keras.constraints.MaxNorm(3),
    )(x)
    x = layers.GlobalAveragePooling2D()(layers.BatchNormalization()(x))
    dense = layers.Dense(4, kernel_initializer=keras.initializers.HeNormal(1))
    block = keras.Sequential(
        [keras.Input((4,)), dense, layers.LeakyReLU(0.1), layers.Dropout(0.2)], name="block"
    )
    t = layers.Bidirectional(layers.LSTM(2))(layers.Embedding(20, 3)(tokens))
    h = layers.Concatenate()([block(x), t])
    model = keras.Model(
        {"image": image, "tokens": tokens},
        {
            "cls": layers.Dense(3, activation="softmax", name="cls")(h),
            "reg": layers.Dense(1, name="reg")(h),
        },
    )
    losses = {"cls": "sparse_categorical_crossentropy", "reg": keras.losses.MeanSquaredError()}
    model.compile(optimizer=keras.optimizers.AdamW(), loss=losses)
    assert rebuild_model(model.to_json()).count_params() == model.count_params()


def test_rebuild_ignores_the_compile_config():
    """Does a compiled model's JSON rebuild (the grader chooses optimizer and loss)?"""
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    assert rebuild_model(model.to_json()).count_params() == model.count_params()


def _lambda_json(fn):
    inputs = keras.Input((4,), name="x")
    outputs = keras.layers.Lambda(fn, name="double")(inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns that serializing a lambda is unsafe
        return keras.Model(inputs, outputs).to_json()


def test_rebuild_refuses_a_lambda_layer():
    """Is a Lambda layer refused, naming it and what to use instead?"""
    text = _lambda_json(lambda t: t * 2.0)
    with pytest.raises(
        ArchitectureError, match=re.escape("The grader only rebuilds built-in layers: replace it")
    ) as info:
        rebuild_model(text)
    assert "your model uses a Lambda layer 'double'" in str(info.value)


@pytest.fixture
def unsafe_deserialization():
    """Switch Keras safe mode off process-wide, as a learner's kernel could, then restore it."""
    keras.config.enable_unsafe_deserialization()
    yield
    # No public way back: reset the flag keras.config.enable_unsafe_deserialization() set.
    from keras.src.backend.common import global_state

    global_state.set_global_attribute("safe_mode_saving", None)


def test_rebuild_refuses_lambda_even_with_unsafe_deserialization(unsafe_deserialization):
    """Is a Lambda still refused after keras.config.enable_unsafe_deserialization()?"""
    text = _lambda_json(lambda t: t * 2.0)
    with pytest.raises(
        ArchitectureError, match=re.escape("The grader only rebuilds built-in layers")
    ):
        rebuild_model(text)


def _double(t):
    return t * 2.0


def test_rebuild_refuses_a_lambda_with_a_named_function():
    """Is a Lambda around a named Python function refused too?"""
    with pytest.raises(
        ArchitectureError, match=re.escape("The grader only rebuilds built-in layers")
    ):
        rebuild_model(_lambda_json(_double))


def test_keras_safe_mode_itself_refuses_lambdas():
    """Does Keras 3 honour safe_mode=True for a serialized lambda (our scan is not the only guard)?"""
    config = json.loads(_lambda_json(lambda t: t * 2.0))
    with pytest.raises(ValueError, match=re.escape("safe_mode=False")):
        keras.saving.deserialize_keras_object(config, safe_mode=True)


def test_rebuild_refuses_custom_layer_classes():
    """Is a registered custom layer refused even though this process could rebuild it?"""

    @keras.saving.register_keras_serializable(package="kerascourse_test")
    class Twice(keras.layers.Layer):
        def call(self, x):
            return x * 2.0

    inputs = keras.Input((4,), name="x")
    text = keras.Model(inputs, Twice(name="twice")(inputs)).to_json()
    with pytest.raises(
        ArchitectureError, match=re.escape("build the same computation from keras.layers")
    ) as info:
        rebuild_model(text)
    assert "custom class 'kerascourse_test>Twice'" in str(info.value)


def _custom_act(x):
    return keras.ops.relu(x)


def test_rebuild_refuses_custom_activation_functions():
    """Is a custom activation function refused with the built-in alternative?"""
    inputs = keras.Input((4,), name="x")
    text = keras.Model(
        inputs, keras.layers.Dense(2, activation=_custom_act, name="d")(inputs)
    ).to_json()
    with pytest.raises(
        ArchitectureError, match=re.escape("use a built-in activation by name")
    ) as info:
        rebuild_model(text)
    assert "custom function '_custom_act' (in layer 'd')" in str(info.value)


def test_rebuild_refuses_malformed_json():
    """Is text that is not JSON refused with where it broke and the fix?"""
    with pytest.raises(
        ArchitectureError, match=re.escape("Submit the text returned by model.to_json() unchanged.")
    ):
        rebuild_model('{"class_name": "Functional", ')


def test_rebuild_refuses_oversized_json():
    """Is an architecture over the size limit refused before parsing?"""
    with pytest.raises(
        ArchitectureError, match=re.escape("submit model.to_json(), not the weights or data")
    ):
        rebuild_model(_mlp().to_json(), max_bytes=100)


def test_rebuild_refuses_json_that_is_not_a_model():
    """Is the JSON of a single layer refused as not a model?"""
    text = json.dumps(keras.saving.serialize_keras_object(keras.layers.Dense(3)))
    with pytest.raises(ArchitectureError, match=re.escape("of a functional or Sequential model")):
        rebuild_model(text)


def test_train_with_seed_twice_gives_identical_weights(restore_op_determinism):
    """Do two rebuilds trained with the same seed end with identical weights?"""
    text = _mlp().to_json()
    data = _data()
    first = train_with_seed(rebuild_model(text), data, seed=7, epochs=2, batch_size=16).model
    second = train_with_seed(rebuild_model(text), data, seed=7, epochs=2, batch_size=16).model
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_train_with_another_seed_gives_other_weights(restore_op_determinism):
    """Does the seed matter (so an instructor's private seed changes the run)?"""
    text = _mlp().to_json()
    data = _data()
    first = train_with_seed(rebuild_model(text), data, seed=1, epochs=1, batch_size=16).model
    second = train_with_seed(rebuild_model(text), data, seed=2, epochs=1, batch_size=16).model
    assert not np.array_equal(first.get_weights()[0], second.get_weights()[0])


def _linear_model(w, b):
    inputs = keras.Input((w.shape[0],), name="x")
    model = keras.Model(inputs, keras.layers.Dense(w.shape[1], name="d")(inputs))
    model.set_weights([w, b])
    return model


def test_accuracy_equals_a_numpy_reference():
    """Is accuracy argmax(x @ W + b) == y computed independently with numpy?"""
    rng = np.random.default_rng(3)
    w = rng.normal(size=(8, 3)).astype("float32")
    b = rng.normal(size=3).astype("float32")
    x, y = _data(50)
    expected = float(np.mean(np.argmax(x @ w + b, axis=1) == y))
    assert accuracy(_linear_model(w, b), x, y, batch_size=16) == pytest.approx(expected)


def test_accuracy_accepts_one_hot_labels():
    """Do one-hot labels give the same accuracy as integer labels?"""
    model = _mlp()
    x, y = _data(30)
    assert accuracy(model, x, np.eye(3)[y]) == accuracy(model, x, y)


def test_binary_accuracy_uses_the_threshold():
    """Is a single output unit scored by prediction > threshold?"""
    w = np.array([[1.0], [0.0]], dtype="float32")
    model = _linear_model(w, np.zeros(1, dtype="float32"))
    x = np.array([[2.0, 0.0], [-2.0, 0.0], [1.0, 5.0]], dtype="float32")
    assert accuracy(model, x, np.array([1, 0, 0]), threshold=0.0) == pytest.approx(2 / 3)


def test_mse_equals_a_numpy_reference():
    """Is mse the mean of (x @ W + b - y)^2 computed independently?"""
    rng = np.random.default_rng(4)
    w = rng.normal(size=(8, 1)).astype("float32")
    b = np.array([0.5], dtype="float32")
    x, _ = _data(20)
    y = rng.normal(size=(20, 1))
    expected = float(np.mean((x @ w + b - y) ** 2))
    assert mse(_linear_model(w, b), x, y, batch_size=7) == pytest.approx(expected, rel=1e-5)


def test_quality_below_threshold_fails_with_advice():
    """Does a metric below the mark fail with measured, allowed and why notebook numbers do not count?"""
    with pytest.raises(
        QualityError, match=re.escape("numbers printed in your notebook do not count")
    ) as info:
        check_quality(0.81, 0.9, "accuracy")
    assert "accuracy 0.81 on the grader's held-out data; allowed: accuracy at least 0.9" in str(
        info.value
    )


def test_error_metric_lower_is_better():
    """Does an error metric pass below its threshold and fail above it?"""
    assert check_quality(0.1, 0.2, "mse", higher_is_better=False).passed
    with pytest.raises(QualityError, match=re.escape("Improve the model itself")):
        check_quality(0.3, 0.2, "mse", higher_is_better=False)


def test_nan_metric_fails_as_diverged():
    """Is a NaN metric a failure that says training diverged?"""
    with pytest.raises(QualityError, match=re.escape("lower the learning rate")):
        check_quality(float("nan"), 0.5, "accuracy")


def test_always_true_float_cannot_pass():
    """Does a float subclass whose comparisons always succeed still fail on its real value?"""

    class Liar(float):
        def __ge__(self, other):
            return True

        def __le__(self, other):
            return True

        def __float__(self):
            return 1.0

    assert not check_quality(Liar(0.1), 0.9, "accuracy", raise_on_fail=False).passed


def test_non_numbers_are_our_bug():
    """Is a non-numeric metric value reported as a grader bug?"""
    with pytest.raises(GraderBugError, match=re.escape("check_quality needs a number")):
        check_quality("0.95", 0.9, "accuracy")
