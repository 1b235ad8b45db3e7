"""Lab 00, tf.keras foundations: a tuned regression MLP on diabetes, graded on R² and budget."""

from __future__ import annotations

from typing import Any

from kerascourse.autograder.core.spec import GradeCell, LabSpec, Recipe


def public_data(seed: int = 0) -> tuple[Any, Any, Any, Any]:
    """Public grader data of lab00: diabetes, standardised with the training rows' statistics.

    Features and target are both standardised (mean 0, variance 1 on train+validation);
    R² does not change under that rescaling of the target, so the score reads the same as
    on the raw disease-progression values. A private ``.npz`` must be standardised the
    same way (the lab's input is "standardised features").
    """
    import numpy as np

    from kerascourse import datasets

    data = datasets.load("diabetes")
    x_train = np.concatenate([data.x_train, data.x_val]).astype("float32")
    y_train = np.concatenate([data.y_train, data.y_val]).astype("float32")
    x_mean, x_std = x_train.mean(axis=0), x_train.std(axis=0)
    y_mean, y_std = y_train.mean(), y_train.std()

    def scale_x(x: Any) -> Any:
        return ((x - x_mean) / x_std).astype("float32")

    def scale_y(y: Any) -> Any:
        return ((y - y_mean) / y_std).astype("float32").reshape(-1, 1)

    return scale_x(x_train), scale_y(y_train), scale_x(data.x_test), scale_y(data.y_test)


def _lab00_reference_model() -> Any:
    """The grader's reference MLP for lab00's time ratio (the size of a good solution)."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(10,), name="features")
    x = layers.Dense(32, activation="relu")(inputs)
    x = layers.Dense(16, activation="relu")(x)
    outputs = layers.Dense(1, name="target")(x)
    return keras.Model(inputs, outputs, name="reference_mlp")


SPEC = LabSpec(
    lab_id="lab00_tf_keras_foundations",
    notebook="lab00_tf_keras_foundations.ipynb",
    grade_cells=(
        GradeCell(
            "q1_io_names_shapes",
            1,
            visible=("inputs", "outputs"),
            title="input 'features' (10,), output 'target' (1,)",
        ),
        GradeCell(
            "q1_architecture",
            1,
            visible=("layer_types",),
            hidden=("connected", "forbidden_layers"),
            title="Dense layers, every layer connected, no Lambda",
        ),
        GradeCell(
            "q2_budget",
            2,
            visible=("parameters",),
            hidden=("flops", "epoch_time_ratio"),
            title="parameters, FLOPs and epoch time within budget",
        ),
        GradeCell(
            "q2_tuned",
            1,
            visible=("optimizer",),
            title="compiled with a chosen optimizer and learning rate",
        ),
        GradeCell("q3_quality", 3, visible=("quality",), title="R² when the grader trains it"),
        GradeCell("q4_written", 2, manual=True, title="why the scaler sees the training rows only"),
    ),
    inputs={"features": (10,)},
    outputs={"target": (1,)},
    required_layers=("Dense",),
    forbidden_layers=("Lambda",),
    max_params=2_000,
    max_flops=4_000,
    max_time_ratio=3.0,
    quality_threshold=0.40,
    recipe=Recipe(
        optimizer="adam",
        learning_rate=1e-3,
        loss="mse",
        epochs=20,
        batch_size=16,
        reference_epochs=4,
    ),
    public_data=public_data,
    reference_model=_lab00_reference_model,
    metric="r2",
    tuned_optimizers=("Adam", "AdamW", "Nadam", "RMSprop", "SGD"),
    learning_rate_range=(1e-4, 0.3),
)
