"""Lab 03, residual and inception blocks: blocks written as functions, graded by shape,
parameters, depth and a degradation check against the submission's own plain twin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kerascourse.autograder.checks.blocks import BlockSpec
from kerascourse.autograder.core.data import train_and_test
from kerascourse.autograder.core.spec import GradeCell, LabSpec, Recipe


def public_data(seed: int = 0) -> tuple[Any, Any, Any, Any]:
    """Public grader data of lab03: 640 training images drawn with the seed, the test set.

    Small on purpose: the degradation check trains the net and its plain twin, and the
    gap between them is already wide after three epochs on 640 images.
    """
    import numpy as np

    x_train, y_train, x_test, y_test = train_and_test("digits28")
    rows = np.sort(np.random.default_rng(seed).choice(len(x_train), 640, replace=False))
    return x_train[rows], y_train[rows], x_test, y_test


def lab03_conv_bn(x: Any, filters: int, kernel_size: int, name: str, strides: int = 1) -> Any:
    """Conv2D (no bias) -> BatchNormalization -> ReLU, layers named ``{name}_conv|bn|relu``."""
    from keras import layers

    x = layers.Conv2D(
        filters, kernel_size, strides=strides, padding="same", use_bias=False, name=f"{name}_conv"
    )(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def _lab03_residual_block(x: Any, filters: int, name: str, strides: int = 1) -> Any:
    """The reference residual block (the lab's solution)."""
    from keras import layers

    y = lab03_conv_bn(x, filters, 3, f"{name}_a", strides=strides)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_b_conv")(y)
    y = layers.BatchNormalization(name=f"{name}_b_bn")(y)
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(
            filters, 1, strides=strides, use_bias=False, name=f"{name}_proj_conv"
        )(x)
        shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    y = layers.add([y, shortcut], name=f"{name}_add")
    return layers.Activation("relu", name=f"{name}_out")(y)


def _lab03_inception_block(
    x: Any, f1: int, f3r: int, f3: int, f5r: int, f5: int, fp: int, name: str
) -> Any:
    """The reference inception block (the lab's solution)."""
    from keras import layers

    a = lab03_conv_bn(x, f1, 1, f"{name}_1x1")
    b = lab03_conv_bn(lab03_conv_bn(x, f3r, 1, f"{name}_3x3_reduce"), f3, 3, f"{name}_3x3")
    c = lab03_conv_bn(lab03_conv_bn(x, f5r, 1, f"{name}_5x5_reduce"), f5, 5, f"{name}_5x5")
    d = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    d = lab03_conv_bn(d, fp, 1, f"{name}_pool_proj")
    return layers.concatenate([a, b, c, d], name=f"{name}_out")


def lab03_network(residual_block: Callable[..., Any], inception_block: Callable[..., Any]) -> Any:
    """Lab03's network, assembled from the given block functions (the notebook calls this).

    stem (8 channels, strides 2: 14x14) -> inception block (16 channels) -> four residual
    blocks of 16 channels -> one of 32 with strides 2 (7x7) -> three of 32 -> global
    average pooling -> softmax. 20 weighted layers on the longest path.
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=(28, 28, 1), name="image")
    x = lab03_conv_bn(inputs, 8, 3, "stem", strides=2)
    x = inception_block(x, 4, 4, 8, 2, 2, 2, name="inception")
    for i in range(8):
        x = residual_block(x, 16 if i < 4 else 32, name=f"res{i + 1}", strides=2 if i == 4 else 1)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Dense(10, activation="softmax", name="digit")(x)
    return keras.Model(inputs, outputs, name="residual_net")


def _lab03_reference_model() -> Any:
    """The solution's network (the block specs below are its numbers)."""
    return lab03_network(_lab03_residual_block, _lab03_inception_block)


_RES_CALL = "residual_block(x, filters, name, strides)"
SPEC = LabSpec(
    lab_id="lab03_residual_inception",
    notebook="lab03_residual_inception.ipynb",
    grade_cells=(
        GradeCell(
            "q1_inception_block",
            2,
            visible=("inputs", "outputs", "inception_blocks"),
            hidden=("connected", "forbidden_layers"),
            title="inception block: four towers concatenated, shape and parameters",
        ),
        GradeCell(
            "q2_residual_block",
            3,
            visible=("residual_blocks", "depth"),
            hidden=("parameters",),
            title="residual blocks (identity and projection): shapes and parameters",
        ),
        GradeCell(
            "q3_degradation",
            3,
            visible=("degradation",),
            hidden=("device",),
            title="the residual net reaches a loss its plain twin cannot, same budget",
        ),
        GradeCell("q4_written", 2, manual=True, title="why the plain twin trains worse"),
    ),
    inputs={"image": (28, 28, 1)},
    outputs={"digit": (10,)},
    required_layers=("Conv2D", "BatchNormalization", "Add", "Concatenate"),
    forbidden_layers=("Lambda",),
    max_params=91_000,
    max_flops=20_000_000,
    max_time_ratio=3.0,
    quality_threshold=0.5,
    recipe=Recipe(
        optimizer="SGD",
        learning_rate=0.05,
        optimizer_options={"momentum": 0.9},
        epochs=3,
        batch_size=32,
        reference_epochs=0,
    ),
    public_data=public_data,
    reference_model=_lab03_reference_model,
    blocks=(
        BlockSpec(
            "inception",
            "inception",
            (14, 14, 16),
            572,
            4,
            "inception_block(x, 4, 4, 8, 2, 2, 2, name='inception')",
        ),
        *(
            BlockSpec(f"res{i}", "residual", (14, 14, 16), 4_736, 2, _RES_CALL)
            for i in (1, 2, 3, 4)
        ),
        BlockSpec("res5", "residual", (7, 7, 32), 14_720, 2, _RES_CALL),
        *(BlockSpec(f"res{i}", "residual", (7, 7, 32), 18_688, 2, _RES_CALL) for i in (6, 7, 8)),
    ),
    min_depth=20,
    max_loss_ratio=0.5,
)
