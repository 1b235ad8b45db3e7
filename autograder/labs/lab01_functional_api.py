"""Lab 01, the functional API: a digit classifier graded on interface, budget and accuracy."""

from __future__ import annotations

from typing import Any

from kerascourse.autograder.core.data import train_and_test
from kerascourse.autograder.core.spec import GradeCell, LabSpec, Recipe


def public_data(seed: int = 0) -> tuple[Any, Any, Any, Any]:
    """Public grader data of lab01: train on digits28 train+validation, measure on test."""
    return train_and_test("digits28")


def _lab01_reference_model() -> Any:
    """The grader's reference CNN for lab01's time ratio (the size of a good solution)."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(28, 28, 1), name="image")
    x = layers.Conv2D(16, 3, activation="relu")(inputs)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(32, activation="relu")(x)
    outputs = layers.Dense(10, activation="softmax", name="digit")(x)
    return keras.Model(inputs, outputs, name="reference_cnn")


SPEC = LabSpec(
    lab_id="lab01_functional_api",
    notebook="lab01_functional_api.ipynb",
    grade_cells=(
        GradeCell(
            "q1_io_names_shapes",
            1,
            visible=("inputs", "outputs", "probabilities"),
            title="input 'image' (28, 28, 1), output 'digit' with 10 probabilities",
        ),
        GradeCell(
            "q1_architecture",
            2,
            visible=("layer_types",),
            hidden=("connected", "forbidden_layers"),
            title="a Conv2D, every layer connected, no Lambda",
        ),
        GradeCell(
            "q2_budget",
            2,
            visible=("parameters", "flops"),
            hidden=("epoch_time_ratio",),
            title="parameters, FLOPs and epoch time within budget",
        ),
        GradeCell("q2_device", 1, visible=("device",), title="trained on the required device"),
        GradeCell(
            "q3_quality", 3, visible=("quality",), title="accuracy when the grader trains it"
        ),
        GradeCell("q4_written", 2, manual=True, title="subclassing vs the functional API"),
    ),
    inputs={"image": (28, 28, 1)},
    outputs={"digit": (10,)},
    required_layers=("Conv2D",),
    forbidden_layers=("Lambda",),
    max_params=60_000,
    max_flops=4_000_000,
    max_time_ratio=3.0,
    quality_threshold=0.92,
    recipe=Recipe(epochs=8),
    public_data=public_data,
    reference_model=_lab01_reference_model,
)
