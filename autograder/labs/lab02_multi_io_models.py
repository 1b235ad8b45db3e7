"""Lab 02, multi-input/multi-output models: a siamese CNN on digit pairs with a shared encoder."""

from __future__ import annotations

from typing import Any

from kerascourse.autograder.core.data import train_and_test
from kerascourse.autograder.core.spec import GradeCell, LabSpec, Recipe


def digit_pairs(x: Any, y: Any, n: int, seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """``n`` pairs of digit images, half of the same class, drawn with ``seed``.

    Returns ``({"left", "right"} images, {"same": (n, 1) float 0/1, "left_digit": (n,)
    int})``: the two inputs and two targets of lab02's siamese model. The lab notebook
    calls this too, so learner and grader train on pairs made the same way.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    by_class = {c: np.flatnonzero(y == c) for c in np.unique(y)}
    classes = np.array(sorted(by_class))
    left = rng.integers(0, len(y), n)
    same = rng.random(n) < 0.5
    right = np.empty(n, dtype=np.int64)
    for i, (index, is_same) in enumerate(zip(left, same, strict=True)):
        label = y[index]
        other = label if is_same else rng.choice(classes[classes != label])
        right[i] = rng.choice(by_class[other])
    inputs = {"left": x[left], "right": x[right]}
    targets = {"same": same.astype("float32").reshape(-1, 1), "left_digit": y[left]}
    return inputs, targets


def public_data(seed: int = 0) -> tuple[Any, Any, Any, Any]:
    """Public grader data of lab02: 2,000 training pairs, 1,000 test pairs (seeded)."""
    x_train, y_train, x_test, y_test = train_and_test("digits28")
    train = digit_pairs(x_train, y_train, 2_000, seed)
    test = digit_pairs(x_test, y_test, 1_000, seed + 1)
    return train[0], train[1], test[0], test[1]


def _lab02_reference_model() -> Any:
    """The grader's reference siamese CNN for lab02's time ratio (a good solution's size)."""
    import keras
    from keras import layers

    image = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(16, 3, activation="relu")(image)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(32, activation="relu")(x)
    encoder = keras.Model(image, x, name="encoder")
    left = keras.Input(shape=(28, 28, 1), name="left")
    right = keras.Input(shape=(28, 28, 1), name="right")
    a, b = encoder(left), encoder(right)
    gap = layers.subtract([a, b])
    joined = layers.concatenate([a, b, layers.multiply([gap, gap])])
    joined = layers.Dense(32, activation="relu")(joined)
    same = layers.Dense(1, activation="sigmoid", name="same")(joined)
    digit = layers.Dense(10, activation="softmax", name="left_digit")(a)
    return keras.Model({"left": left, "right": right}, {"same": same, "left_digit": digit})


SPEC = LabSpec(
    lab_id="lab02_multi_io_models",
    notebook="lab02_multi_io_models.ipynb",
    grade_cells=(
        GradeCell(
            "q1_io_names_shapes",
            1,
            visible=("inputs", "outputs"),
            title="inputs 'left' and 'right' (28, 28, 1), outputs 'same' (1,), 'left_digit' (10,)",
        ),
        GradeCell(
            "q1_shared_encoder",
            2,
            visible=("shared_layers",),
            hidden=("connected", "forbidden_layers"),
            title="one 'encoder' applied to both images, every layer connected, no Lambda",
        ),
        GradeCell(
            "q2_budget",
            2,
            visible=("parameters", "flops"),
            hidden=("epoch_time_ratio",),
            title="parameters, FLOPs and epoch time within budget",
        ),
        GradeCell(
            "q3_quality",
            3,
            visible=("quality",),
            title="same/different accuracy when the grader trains it",
        ),
        GradeCell("q4_written", 2, manual=True, title="why one shared encoder"),
    ),
    inputs={"left": (28, 28, 1), "right": (28, 28, 1)},
    outputs={"same": (1,), "left_digit": (10,)},
    required_layers=("Conv2D",),
    forbidden_layers=("Lambda",),
    max_params=40_000,
    max_flops=8_000_000,
    max_time_ratio=3.0,
    quality_threshold=0.85,
    recipe=Recipe(
        learning_rate=3e-3,
        loss={"same": "binary_crossentropy", "left_digit": "sparse_categorical_crossentropy"},
        loss_weights={"same": 1.0, "left_digit": 0.5},
        epochs=8,
        batch_size=32,
        reference_epochs=4,
    ),
    public_data=public_data,
    reference_model=_lab02_reference_model,
    metric="accuracy",
    metric_output="same",
    shared_layers=("encoder",),
)
