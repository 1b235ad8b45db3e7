"""Lab 05 — fine-tune the course's pretrained base on the bundled letters.

Why the grader loads the weights itself: the exported architecture (``model.to_json()``)
holds no weights, so a transfer-learning submission is graded by rebuilding it, loading
the bundled pretrained weights (``datasets.pretrained_base()``'s file, hash-checked) into
the layers with the base's names, and training it with the learner's ``trainable`` flags.
A learner who froze the early blocks therefore trains fewer weights, faster: the epoch
time ratio against the reference (block 1 and 2 frozen) is part of the budget.

Importing this module imports no Keras.
"""

from __future__ import annotations

from typing import Any

from kerascourse.autograder.checks.keras_utils import leaf_layers
from kerascourse.autograder.core.results import ArchitectureError, CheckResult
from kerascourse.autograder.core.spec import GradeCell, LabSpec, Recipe

__all__ = ["SPEC", "build_reference", "load_pretrained_weights"]

#: Layers a submission must export frozen: the base's early blocks. Block 3 stays free,
#: its batch norm included: in Keras 3.15.1 ``fit`` overrides the ``training=False`` a base
#: is called with (keras-team/keras#20285), so a trainable BatchNormalization re-estimates
#: its statistics on the letters, and measured with the public defaults that helps (0.905
#: against 0.775 with ``block3_bn`` frozen too).
FROZEN = ("block1_conv", "block1_bn", "block2_conv", "block2_bn")


def _letters_grader_data(seed: int = 0) -> tuple[Any, Any, Any, Any]:
    """Public grader data: letters train+validation (600 images) and test (400)."""
    import numpy as np

    from kerascourse import datasets

    data = datasets.load("letters")
    x_train = np.concatenate([data.x_train, data.x_val])
    y_train = np.concatenate([data.y_train, data.y_val])
    return x_train, y_train, data.x_test, data.y_test


def load_pretrained_weights(model: Any) -> CheckResult:
    """Copy the bundled base's weights into ``model``'s layers of the same names.

    Raises:
        ArchitectureError: a base layer is missing or has other weight shapes (the model
            was not built on ``datasets.pretrained_base()`` unchanged).
    """
    from kerascourse import datasets

    base = datasets.pretrained_base()
    mine = {path.rpartition("/")[2]: layer for path, layer in leaf_layers(model)}
    weighted = [layer for layer in base.layers if layer.weights]
    allowed = "the layers of datasets.pretrained_base(), with their weight shapes"
    for source in weighted:
        target = mine.get(source.name)
        want = [tuple(w.shape) for w in source.weights]
        have = [tuple(w.shape) for w in target.weights] if target is not None else None
        if have != want:
            measured = (
                f"no layer named '{source.name}'"
                if target is None
                else f"layer '{source.name}' has weights {have}, the base's are {want}"
            )
            advice = (
                "Start from base = datasets.pretrained_base() and call it on your input "
                "(x = base(x, training=False)); do not rebuild or rename its layers."
            )
            raise ArchitectureError(CheckResult("pretrained", False, measured, allowed, advice))
        target.set_weights(source.get_weights())
    names = ", ".join(layer.name for layer in weighted)
    return CheckResult("pretrained", True, f"pretrained weights loaded into {names}", allowed)


def build_reference() -> Any:
    """The lab's solution: augmentation, the base with blocks 1-2 frozen, a softmax head."""
    import keras
    from keras import layers

    from kerascourse import datasets

    base = datasets.pretrained_base()
    for name in FROZEN:
        base.get_layer(name).trainable = False
    inputs = keras.Input(shape=(28, 28, 1), name="image")
    x = layers.RandomRotation(0.05, name="rotate")(inputs)
    x = layers.RandomTranslation(0.1, 0.1, name="shift")(x)
    x = base(x, training=False)
    x = layers.Dropout(0.3, name="head_dropout")(x)
    outputs = layers.Dense(10, activation="softmax", name="letter")(x)
    return keras.Model(inputs, outputs, name="letters_finetuned")


SPEC = LabSpec(
    lab_id="lab05_transfer_learning",
    notebook="lab05_transfer_learning.ipynb",
    grade_cells=(
        GradeCell(
            "q1_io_and_base",
            1,
            visible=("inputs", "outputs", "pretrained"),
            title="input 'image' (28, 28, 1), output 'letter' (10,), built on the pretrained base",
        ),
        GradeCell(
            "q1_frozen",
            2,
            visible=("frozen",),
            hidden=("connected", "forbidden_layers"),
            title="blocks 1 and 2 of the base frozen, every layer connected, no Lambda",
        ),
        GradeCell(
            "q2_budget",
            2,
            visible=("parameters",),
            hidden=("epoch_time_ratio",),
            title="parameters and epoch time within budget",
        ),
        GradeCell(
            "q3_quality",
            3,
            visible=("quality",),
            hidden=("device",),
            title="letter accuracy when the grader fine-tunes it",
        ),
        GradeCell("q4_written", 2, manual=True, title="why freeze, why a low learning rate"),
    ),
    inputs={"image": (28, 28, 1)},
    outputs={"letter": (10,)},
    required_layers=("Conv2D",),
    forbidden_layers=("Lambda",),
    max_params=100_000,
    max_flops=50_000_000,
    max_time_ratio=3.0,
    quality_threshold=0.85,
    recipe=Recipe(learning_rate=1e-3, epochs=8, batch_size=32, reference_epochs=4),
    public_data=_letters_grader_data,
    reference_model=build_reference,
    prepare_model=load_pretrained_weights,
    frozen_layers=FROZEN,
)
