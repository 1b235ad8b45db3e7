"""Architecture checks: interface, layer rules, parameters and graph connectivity."""

from __future__ import annotations

import re
import subprocess
import sys

import keras
import pytest
from kerascourse.autograder import ArchitectureError, CheckResult, GraderBugError
from kerascourse.autograder.checks.graph import check_connected, check_shared_layer
from kerascourse.autograder.checks.interface import check_inputs, check_outputs
from kerascourse.autograder.checks.layers import (
    check_contains,
    check_forbidden,
    check_layer_sequence,
)
from kerascourse.autograder.checks.params import check_param_count, largest_layers


def _cnn(shape=(28, 28, 1), input_name="image", output_name="digits"):
    inputs = keras.Input(shape=shape, name=input_name)
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name=output_name)(x)
    return keras.Model(inputs, outputs, name="cnn")


def _big_mlp():
    inputs = keras.Input(shape=(28, 28, 1), name="image")
    x = keras.layers.Flatten(name="flatten")(inputs)
    x = keras.layers.Dense(512, activation="relu", name="dense")(x)
    outputs = keras.layers.Dense(10, name="digits")(x)
    return keras.Model(inputs, outputs, name="student_mlp")


def test_matching_inputs_pass():
    """Does a model with the required input name and shape pass, with a CheckResult?"""
    result = check_inputs(_cnn(), {"image": (28, 28, 1)})
    assert isinstance(result, CheckResult)
    assert result.passed


def test_wrong_input_shape_names_the_fix():
    """Does a wrong input shape say what it is, what is expected and how to change it?"""
    with pytest.raises(
        ArchitectureError, match=re.escape("has shape (28, 28, 3); expected (28, 28, 1)")
    ):
        check_inputs(_cnn(shape=(28, 28, 3)), {"image": (28, 28, 1)})
    with pytest.raises(
        ArchitectureError,
        match=re.escape(
            "Change keras.Input(shape=...) to keras.Input(shape=(28, 28, 1), name='image')"
        ),
    ):
        check_inputs(_cnn(shape=(28, 28, 3)), {"image": (28, 28, 1)})


def test_wrong_input_name_says_how_to_name_it():
    """Is an unnamed input reported with the keras.Input(name=...) fix?"""
    with pytest.raises(
        ArchitectureError, match=re.escape("Name it: keras.Input(shape=(28, 28, 1), name='image')")
    ):
        check_inputs(_cnn(input_name="pixels"), {"image": (28, 28, 1)})


def test_none_in_expected_shape_accepts_any_size():
    """Does None in an expected shape accept any size in that dimension?"""
    assert check_inputs(_cnn(), {"image": (None, None, 1)}).passed


def test_failure_can_be_returned_instead_of_raised():
    """With raise_on_fail=False, is a failed CheckResult returned with measured and allowed?"""
    result = check_inputs(_cnn(shape=(28, 28, 3)), {"image": (28, 28, 1)}, raise_on_fail=False)
    assert not result.passed
    assert "expected (28, 28, 1)" in result.measured
    assert result.allowed == "input 'image' with shape (28, 28, 1)"


def test_wrong_output_shape_is_reported():
    """Does an output of the wrong width point at the layer that produces it?"""
    with pytest.raises(ArchitectureError, match=re.escape("so that it outputs shape (3,)")):
        check_outputs(_cnn(), {"digits": (3,)})


def test_output_name_is_checked():
    """Is an output with another name reported with how to name the layer?"""
    with pytest.raises(ArchitectureError, match=re.escape("keras.layers.Dense(..., name='label')")):
        check_outputs(_cnn(), {"label": (10,)})


def test_sequential_outputs_need_the_functional_api():
    """Is a Sequential model told that output names need the functional API, and how?"""
    seq = keras.Sequential(
        [keras.Input((28, 28, 1), name="image"), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    with pytest.raises(
        ArchitectureError, match=re.escape("build it with the functional API instead")
    ):
        check_outputs(seq, {"digits": (10,)})


def test_sequential_with_named_input_passes_input_check():
    """Does a Sequential model that starts with a named keras.Input pass the input check?"""
    seq = keras.Sequential([keras.Input((28, 28, 1), name="image"), keras.layers.Flatten()])
    assert check_inputs(seq, {"image": (28, 28, 1)}).passed


def test_unbuilt_sequential_is_told_to_add_an_input():
    """Is a Sequential model without an Input told how to define its inputs?"""
    seq = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(10)])
    with pytest.raises(
        ArchitectureError, match=re.escape("Start the model with keras.Input(shape=..., name=...)")
    ):
        check_inputs(seq, {"image": (28, 28, 1)})


def test_not_a_model_is_reported_as_such():
    """Does passing None (task not attempted) give a message, not an AttributeError?"""
    with pytest.raises(ArchitectureError, match=re.escape("Assign your model")):
        check_inputs(None, {"image": (28, 28, 1)})


def test_missing_layer_type_is_reported():
    """Does a missing required layer type say which layer to add?"""
    with pytest.raises(ArchitectureError, match=re.escape("Add a BatchNormalization layer.")):
        check_contains(_cnn(), ["BatchNormalization"])


def test_min_count_counts_layers():
    """Does min_count require that many layers of the type?"""
    with pytest.raises(
        ArchitectureError, match=re.escape("Add 1 more Conv2D layer (the task needs 2).")
    ):
        check_contains(_cnn(), [keras.layers.Conv2D], min_count=2)


def test_layer_order_is_a_subsequence():
    """Do extra layers between the required ones still pass the order check?"""
    assert check_layer_sequence(_cnn(), ["Conv2D", "Flatten", "Dense"]).passed


def test_wrong_layer_order_is_reported():
    """Is a required layer in the wrong place reported with what to move?"""
    with pytest.raises(
        ArchitectureError, match=re.escape("but not after the Flatten where the task needs it")
    ):
        check_layer_sequence(_cnn(), ["Flatten", "Conv2D"])


def test_layers_inside_nested_models_count():
    """Are layers inside a nested model seen by the layer rules?"""
    block = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, name="c")], name="block"
    )
    inputs = keras.Input((8, 8, 1), name="image")
    outputs = keras.layers.Flatten()(block(inputs))
    model = keras.Model(inputs, outputs)
    assert check_contains(model, ["Conv2D"]).passed
    assert check_layer_sequence(model, ["Conv2D", "Flatten"]).passed


def test_lambda_is_forbidden():
    """Is a Lambda layer refused with a built-in replacement suggested?"""
    inputs = keras.Input((4,), name="x")
    outputs = keras.layers.Lambda(lambda t: t * 2.0, name="double")(inputs)
    model = keras.Model(inputs, outputs)
    with pytest.raises(ArchitectureError, match=re.escape("Replace it with built-in layers")):
        check_forbidden(model, ["Lambda"])


def test_param_count_exact_mismatch():
    """Does an exact parameter count name the difference?"""
    with pytest.raises(
        ArchitectureError, match=re.escape("compare model.summary() with the layers")
    ):
        check_param_count(_cnn(), expected=123)


def test_param_ceiling_message_names_the_biggest_layer():
    """Does the parameter ceiling message name the biggest layer, its class and size?"""
    model = _big_mlp()
    with pytest.raises(
        ArchitectureError,
        match=re.escape("The Dense(512) 'dense' after Flatten holds 401,920 of them"),
    ) as info:
        check_param_count(model, max_params=250_000)
    assert "407,050 parameters" in str(info.value)


def test_param_count_needs_a_rule():
    """Is calling the parameter check with no rule our bug, not the student's?"""
    with pytest.raises(GraderBugError, match=re.escape("needs expected= or max_params=")):
        check_param_count(_cnn())


def test_largest_layers_are_sorted():
    """Does largest_layers list (name, class, params) from the biggest down?"""
    assert largest_layers(_big_mlp(), k=2) == [
        ("dense", "Dense", 401_920),
        ("digits", "Dense", 5_130),
    ]


def test_connected_model_passes():
    """Does an ordinary chain pass the connectivity check?"""
    assert check_connected(_cnn()).passed


def test_unused_input_is_detected():
    """Is an input that feeds no output reported?"""
    a = keras.Input((4,), name="a")
    b = keras.Input((3,), name="b")
    model = keras.Model([a, b], keras.layers.Dense(1, name="out")(a))
    with pytest.raises(ArchitectureError, match=re.escape("InputLayer 'b' never reach an output")):
        check_connected(model)


def _model_with_dangling_branch():
    inputs = keras.Input((4,), name="x")
    hidden = keras.layers.Dense(5, name="hidden")(inputs)
    aux_layer = keras.layers.Dense(3, name="aux")
    aux = aux_layer(hidden)
    outputs = keras.layers.Dense(1, name="out")(hidden)
    return keras.Model(inputs, outputs), hidden, aux, aux_layer


def test_dangling_branch_is_detected_from_created_tensors():
    """Is a branch computed from the inputs but never wired to the output reported?"""
    model, hidden, aux, _ = _model_with_dangling_branch()
    with pytest.raises(
        ArchitectureError, match=re.escape("or delete the branch you do not use")
    ) as info:
        check_connected(model, {"hidden": hidden, "aux": aux, "model": model})
    assert "tensor 'aux'" in str(info.value)


def test_dangling_layer_object_is_detected():
    """Is a layer object that was called but is not in the model reported?"""
    model, _, _, aux_layer = _model_with_dangling_branch()
    with pytest.raises(ArchitectureError, match=re.escape("layer 'aux' (Dense)")):
        check_connected(model, [aux_layer])


def test_intermediate_tensors_are_not_dangling():
    """Are tensors inside the model (and its inputs) accepted as connected?"""
    model, hidden, _, _ = _model_with_dangling_branch()
    assert check_connected(model, {"hidden": hidden, "inputs": model.inputs[0]}).passed


def test_other_models_on_the_same_inputs_are_not_dangling():
    """Is a second model built on the same inputs not mistaken for a dangling branch?"""
    model, _, aux, _ = _model_with_dangling_branch()
    other = keras.Model(model.inputs, aux)
    assert check_connected(model, {"aux": aux, "other": other}).passed


def test_shared_layer_is_detected():
    """Does a layer called on two inputs pass the weight-sharing check?"""
    a = keras.Input((4,), name="a")
    b = keras.Input((4,), name="b")
    shared = keras.layers.Dense(3, name="encoder")
    outputs = keras.layers.Add()([shared(a), shared(b)])
    model = keras.Model([a, b], outputs)
    result = check_shared_layer(model, "encoder")
    assert result.details["calls"] == 2


def test_unshared_layers_fail_the_sharing_check():
    """Are two separate layers (separate weights) reported with how to share one?"""
    a = keras.Input((4,), name="a")
    b = keras.Input((4,), name="b")
    x = keras.layers.Dense(3, name="encoder")(a)
    y = keras.layers.Dense(3, name="encoder_b")(b)
    model = keras.Model([a, b], keras.layers.Add()([x, y]))
    with pytest.raises(
        ArchitectureError, match=re.escape("Create the layer once and call that same object")
    ):
        check_shared_layer(model, "encoder")


def test_shared_layer_unknown_name_lists_valid_names():
    """Does an unknown layer name list the valid names?"""
    with pytest.raises(
        ArchitectureError,
        match=re.escape("Valid layer names: ['conv', 'pool', 'flatten', 'digits']"),
    ):
        check_shared_layer(_cnn(), "encoder")


def test_subclassed_model_is_refused_with_the_fix():
    """Is a subclassed model (no readable graph) told to use the functional API?"""

    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    net = Net()
    net(keras.ops.zeros((1, 3)))
    with pytest.raises(ArchitectureError, match=re.escape("build it with the functional API")):
        check_connected(net)


def test_importing_the_checks_imports_no_backend():
    """Does importing every checks module leave TensorFlow, Keras, JAX and torch unimported?"""
    code = (
        "import importlib, pkgutil, sys\n"
        "import kerascourse.autograder.checks as checks\n"
        "for info in pkgutil.iter_modules(checks.__path__):\n"
        "    importlib.import_module(f'{checks.__name__}.{info.name}')\n"
        "heavy = {'tensorflow', 'keras', 'jax', 'torch'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
