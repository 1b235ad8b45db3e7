"""What each lab asks for and how each of its grade cells is scored: one spec per lab.

Why a registry of plain data: the lab notebook's test cells, the in-kernel self-check, the
trusted grader, the course set-up and the feedback report all need the same facts (grade
ids and points, input/output names and shapes, budgets, the training recipe). They read
them here, so a budget is changed in one place. A grade cell lists the *names* of its
checks; :mod:`kerascourse.autograder.trusted` maps each name to one small grading step.

Public defaults only: what decides a grade for credit (seed, threshold, epochs, data) can
be overridden by the instructor's private config (:mod:`kerascourse.autograder.config`).

Importing this module imports no Keras: the reference model and the public data are built
by functions that import it when called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kerascourse.datasets._errors import unknown_name_message

from .blocks import BlockSpec

#: Quality metrics a lab may name; ``quality.METRICS`` maps each to the grader's function.
METRIC_NAMES: tuple[str, ...] = ("accuracy", "r2", "mse")


class UnknownLabError(ValueError):
    """A lab id (or a grade id of a lab) that is not in the registry; lists the valid ones."""


@dataclass(frozen=True)
class GradeCell:
    """One nbgrader grade cell of a lab.

    Attributes:
        grade_id: the cell's nbgrader ``grade_id`` (``"q1_io_names_shapes"``).
        points: the cell's nbgrader points.
        visible: check names the student version's test cell runs (self-check).
        hidden: check names only the grader runs (between ``### BEGIN/END HIDDEN TESTS``).
        manual: graded by a person (a written answer); no checks.
        title: what the cell tests, in words, for reports.
    """

    grade_id: str
    points: float
    visible: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()
    manual: bool = False
    title: str = ""

    @property
    def checks(self) -> tuple[str, ...]:
        """All checks of the cell, visible first (what the trusted grader runs)."""
        return self.visible + self.hidden


@dataclass(frozen=True)
class Recipe:
    """How the grader trains a rebuilt model (the same for the student's and the reference).

    ``reference_epochs`` caps the reference model's run: it is trained only to time its
    epochs (the first is dropped, the median of the rest kept), so a few are enough.
    """

    optimizer: str = "adam"
    learning_rate: float = 3e-3
    loss: str | dict[str, str] = "sparse_categorical_crossentropy"
    loss_weights: dict[str, float] | None = None
    optimizer_options: dict[str, float] | None = None
    epochs: int = 8
    batch_size: int = 32
    reference_epochs: int = 4


@dataclass(frozen=True)
class LabSpec:
    """Everything the grader needs to know about one lab.

    Attributes:
        lab_id: the nbgrader assignment id and folder name (``labs/<lab_id>/``).
        notebook: the notebook's file name inside that folder.
        grade_cells: the grade cells, in notebook order.
        inputs: input name -> shape without the batch dimension.
        outputs: output name -> shape without the batch dimension.
        required_layers: layer classes that must appear at least once.
        forbidden_layers: layer classes that must not appear (checked in the JSON too).
        max_params: parameter budget (``model.count_params()``).
        max_flops: FLOPs budget of one forward pass on one example.
        max_time_ratio: public default of the epoch-time ratio budget.
        quality_threshold: public default of the minimum accuracy.
        recipe: the grader's training recipe (its ``epochs`` is the public default).
        public_data: ``public_data(seed)`` returns ``(x_train, y_train, x_test, y_test)``
            of the public grader data (bundled with the course; labs that sample it, like
            lab02's pairs, draw with the grader's seed, so a private seed gives other data).
        reference_model: builds the grader's reference model for the time ratio.
        export_file: the file the notebook's last cell writes.
        max_json_bytes: larger architecture files are refused unread.
        metric: the quality metric the grader computes with numpy, a key of
            ``quality.METRICS`` (``"accuracy"``, ``"r2"``). Defaults to `"accuracy"`.
        metric_output: the output the metric reads, for multi-output models (its labels
            are ``y_test[metric_output]``). Defaults to `None` (the only output).
        shared_layers: layer names (paths into nested models allowed) that must be called
            on two or more inputs, i.e. share their weights (the ``shared_layers`` check).
        tuned_optimizers: optimizer classes a learner may choose by compiling the model
            before it is exported (the JSON then carries ``compile_config``); the grader
            trains with that optimizer class and learning rate (and nothing else of its
            config). Empty: the recipe's optimizer, whatever the learner compiled.
        learning_rate_range: the learning rates a tuned optimizer may use, inclusive.
        blocks: the named blocks the model must contain (``residual_blocks`` and
            ``inception_blocks`` checks), each with its output shape and parameters.
        min_depth: fewest weighted layers on the longest input-to-output path (``depth``).
        max_loss_ratio: the ``degradation`` check's pass mark: final training loss of
            the model over that of its plain twin (shortcuts removed), both grader runs.
        baseline: ``baseline(x_train, y_train, x_test, y_test)`` returns the metric of the
            obvious non-deep model on the grader's data (the ``baseline`` check: the
            learner's model must beat it). Computed by the grader, so a private seed or
            dataset moves the bar with the data.
        prepare_model: called on every rebuilt model before the grader compiles it, e.g.
            to load the bundled pretrained weights into a transfer-learning lab's base
            (the exported JSON holds no weights); returns a passed :class:`CheckResult`
            or raises :class:`ArchitectureError` (the ``pretrained`` check reports it).
        frozen_layers: layer names (found anywhere, nested models included) that must be
            exported with ``trainable=False`` (the ``frozen`` check).
        private_npz: whether an instructor may give this lab's grader data as a private
            ``.npz`` (four numeric arrays). False where the data cannot be held that way
            (text: ``np.load(allow_pickle=False)`` cannot return the object arrays of
            strings that Keras needs); multi-input/-output labs are refused anyway.
        submission: what the notebook exports: ``"model"`` (an architecture, scored by
            :mod:`trusted`'s model checks) or ``"callback"`` (a callback class's source,
            scored by running it on grader-controlled training runs, :mod:`lab04`).
            Defaults to `"model"`.
    """

    lab_id: str
    notebook: str
    grade_cells: tuple[GradeCell, ...]
    inputs: dict[str, tuple[int | None, ...]]
    outputs: dict[str, tuple[int | None, ...]]
    required_layers: tuple[str, ...]
    forbidden_layers: tuple[str, ...]
    max_params: int
    max_flops: int
    max_time_ratio: float
    quality_threshold: float
    recipe: Recipe
    public_data: Callable[[int], tuple[Any, Any, Any, Any]] = field(repr=False)
    reference_model: Callable[[], Any] = field(repr=False)
    export_file: str = "submission_model.json"
    max_json_bytes: int = 1_000_000
    metric: str = "accuracy"
    metric_output: str | None = None
    shared_layers: tuple[str, ...] = ()
    tuned_optimizers: tuple[str, ...] = ()
    learning_rate_range: tuple[float, float] = (1e-4, 0.3)
    blocks: tuple[BlockSpec, ...] = ()
    min_depth: int = 0
    max_loss_ratio: float = 0.5
    baseline: Callable[[Any, Any, Any, Any], float] | None = field(default=None, repr=False)
    prepare_model: Callable[[Any], Any] | None = field(default=None, repr=False)
    frozen_layers: tuple[str, ...] = ()
    private_npz: bool = True
    submission: str = "model"

    def cell(self, grade_id: str) -> GradeCell:
        """The grade cell with this id; :class:`UnknownLabError` lists the valid ids."""
        for cell in self.grade_cells:
            if cell.grade_id == grade_id:
                return cell
        msg = unknown_name_message(f"grade id of {self.lab_id}:", grade_id, self.grade_ids())
        raise UnknownLabError(msg)

    def grade_ids(self) -> list[str]:
        """All grade ids, in notebook order."""
        return [cell.grade_id for cell in self.grade_cells]

    @property
    def autograded(self) -> tuple[GradeCell, ...]:
        """The cells the trusted grader scores (all but the manually graded ones)."""
        return tuple(cell for cell in self.grade_cells if not cell.manual)

    @property
    def max_score(self) -> float:
        """Total points of the lab, manual cells included."""
        return float(sum(cell.points for cell in self.grade_cells))


# --------------------------------------------------------------------------- lab01


def _digits28_grader_data(seed: int = 0) -> tuple[Any, Any, Any, Any]:
    """Public grader data of lab01: train on train+validation, measure on test."""
    import numpy as np

    from kerascourse import datasets

    data = datasets.load("digits28")
    x_train = np.concatenate([data.x_train, data.x_val])
    y_train = np.concatenate([data.y_train, data.y_val])
    return x_train, y_train, data.x_test, data.y_test


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


LAB01 = LabSpec(
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
    public_data=_digits28_grader_data,
    reference_model=_lab01_reference_model,
)

# --------------------------------------------------------------------------- lab00


def _diabetes_grader_data(seed: int = 0) -> tuple[Any, Any, Any, Any]:
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


LAB00 = LabSpec(
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
    public_data=_diabetes_grader_data,
    reference_model=_lab00_reference_model,
    metric="r2",
    tuned_optimizers=("Adam", "AdamW", "Nadam", "RMSprop", "SGD"),
    learning_rate_range=(1e-4, 0.3),
)

# --------------------------------------------------------------------------- lab02


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


def _digit_pairs_grader_data(seed: int = 0) -> tuple[Any, Any, Any, Any]:
    """Public grader data of lab02: 2,000 training pairs, 1,000 test pairs (seeded)."""
    x_train, y_train, x_test, y_test = _digits28_grader_data()
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


LAB02 = LabSpec(
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
    public_data=_digit_pairs_grader_data,
    reference_model=_lab02_reference_model,
    metric="accuracy",
    metric_output="same",
    shared_layers=("encoder",),
)

# --------------------------------------------------------------------------- lab03


def _digits28_sample_grader_data(seed: int = 0) -> tuple[Any, Any, Any, Any]:
    """Public grader data of lab03: 640 training images drawn with the seed, the test set.

    Small on purpose: the degradation check trains the net and its plain twin, and the
    gap between them is already wide after three epochs on 640 images.
    """
    import numpy as np

    x_train, y_train, x_test, y_test = _digits28_grader_data()
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
LAB03 = LabSpec(
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
    public_data=_digits28_sample_grader_data,
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

_REGISTRY: dict[str, LabSpec] = {spec.lab_id: spec for spec in (LAB00, LAB01, LAB02, LAB03)}

#: Labs whose specs live in their own module (``kerascourse.autograder.<module>.SPEC``),
#: imported on first use: they need helpers (text segmentation, pretrained weights) that
#: the labs above do not.
_MODULES: dict[str, str] = {
    "lab04_callbacks": "lab04",
    "lab05_transfer_learning": "lab05",
    "lab06_sentiment_lstm": "lab06",
}


def _load_module_specs() -> None:
    import importlib

    for lab_id, module in _MODULES.items():
        if lab_id not in _REGISTRY:
            _REGISTRY[lab_id] = importlib.import_module(f"{__package__}.{module}").SPEC


def lab_ids() -> list[str]:
    """Ids of every lab the grader knows, sorted."""
    _load_module_specs()
    return sorted(_REGISTRY)


def get_lab(lab_id: str) -> LabSpec:
    """The spec of a lab; an unknown id raises :class:`UnknownLabError` listing valid ones.

    Example:
        >>> get_lab("lab01_functional_api").cell("q2_budget").points
        2
    """
    if lab_id not in _REGISTRY:
        _load_module_specs()
    try:
        return _REGISTRY[lab_id]
    except (KeyError, TypeError):
        msg = unknown_name_message("lab", lab_id, lab_ids())
        raise UnknownLabError(msg) from None
