"""Reaching inside every kind of Keras model, once per model, with clear errors."""

from __future__ import annotations

import re

import kerascourse.widgets as kw
import numpy as np
import pytest
from kerascourse.widgets._models import activation_extractor


def _out(model, x):
    from keras import ops

    return ops.convert_to_numpy(model(x, training=False))


@pytest.mark.parametrize("kind", ["cnn", "mlp", "seq_no_input", "nested", "chain"])
def test_last_activation_equals_the_model_output(kind, request, images, digits):
    """For every model kind, does the extractor's last output equal model(x)?"""
    model = request.getfixturevalue(kind)
    x = digits[0][:3] if kind == "mlp" else images[0][:3]
    acts = kw.extract_activations(model, x)
    last = acts[kw.layer_names(model)[-1]]
    np.testing.assert_allclose(last, _out(model, x), rtol=1e-5, atol=1e-6)


def test_layer_names_of_each_kind(cnn, seq_no_input, nested, chain):
    """Are layers listed in forward order, nested ones as 'outer/inner', without InputLayer?"""
    assert kw.layer_names(cnn) == ["conv1", "pool1", "conv2", "flatten", "hidden", "out"]
    assert kw.layer_names(seq_no_input) == ["c1", "f", "d"]
    assert kw.layer_names(nested) == [
        "stem",
        "block/inner_conv",
        "block/inner_pool",
        "block",
        "flat",
        "head",
    ]
    assert kw.layer_names(chain) == ["sub_conv", "sub_flat", "sub_dense"]


def test_nested_layers_are_computed_from_the_outer_input(nested, images):
    """Is 'block/inner_pool' the same array as the nested block's own output?"""
    acts = kw.extract_activations(nested, images[0][:2])
    np.testing.assert_allclose(acts["block/inner_pool"], acts["block"], rtol=1e-6)
    assert acts["block/inner_conv"].shape == (2, 24, 24, 6)


def test_looking_inside_adds_no_nodes_to_the_learners_layers(keras, images):
    """After building an extractor, do the model's layers still have one inbound node each?"""
    from keras import layers

    inputs = keras.Input((28, 28, 1))
    conv = layers.Conv2D(2, 3, name="c")
    model = keras.Model(inputs, layers.Flatten()(conv(inputs)), name="fresh")
    kw.extract_activations(model, images[0][:1])
    assert len(conv._inbound_nodes) == 1
    assert model.get_layer("c").output.shape == (None, 26, 26, 2)


def test_forward_pass_runs_once_per_input_and_weights(cnn, images):
    """Is the forward pass cached per input, and redone after the weights change?"""
    extractor = activation_extractor(cnn)
    x = images[0][5:6]
    before = extractor.forward_passes
    kw.extract_activations(cnn, x)
    kw.extract_activations(cnn, x, layer="conv2")
    kw.extract_activations(cnn, x.copy(), layer="hidden")  # same data, another array
    assert extractor.forward_passes == before + 1
    weights = cnn.get_weights()
    try:
        cnn.set_weights([w * 0.5 for w in weights])
        halved = kw.extract_activations(cnn, x, layer="conv1")
        assert extractor.forward_passes == before + 2
    finally:
        cnn.set_weights(weights)
    assert not np.allclose(halved, kw.extract_activations(cnn, x, layer="conv1"))


def test_one_extractor_per_model(cnn):
    """Is the same multi-output extractor returned on every call for a model?"""
    assert activation_extractor(cnn) is activation_extractor(cnn)
    assert len(activation_extractor(cnn).extractor.outputs) == len(kw.layer_names(cnn))


def test_clear_caches_forgets_extractors_patterns_and_embeddings(cnn):
    """Does clear_caches() empty every in-memory cache, the explorers' ones included?

    The caches are process-wide: what other tests of this worker computed is put back
    afterwards, so an explorer built before this test never recomputes its t-SNE map.
    """
    from kerascourse.widgets._cache import EMBEDDINGS, PATTERNS

    saved_embeddings, saved_patterns = dict(EMBEDDINGS), dict(PATTERNS)
    try:
        first = activation_extractor(cnn)
        PATTERNS[cnn] = {("receptive_field", "conv1"): None}
        EMBEDDINGS.put("probe", np.zeros((3, 2)))
        kw.clear_caches()
        assert cnn not in PATTERNS
        assert "probe" not in EMBEDDINGS
        assert activation_extractor(cnn) is not first
    finally:
        EMBEDDINGS.update(saved_embeddings)
        PATTERNS.update(saved_patterns)


def test_unbuilt_sequential_says_how_to_build_it(keras, images):
    """Does a never-called Sequential model get the 'call model.build' fix?"""
    from keras import layers

    model = keras.Sequential([layers.Dense(3)], name="cnn_small")
    with pytest.raises(ValueError, match=re.escape(
        "ActivationExplorer needs a built model, but 'cnn_small' has not been built. "
        "Call model.build(input_shape) or model(x_train[:1]) first."
    )):  # fmt: skip
        kw.ActivationExplorer(model, images[0][:1])


def test_unbuilt_subclassed_model_says_how_to_build_it(keras, images):
    """Does a never-called subclassed model get the same fix (extract_activations)?"""

    class Tiny(keras.Model):
        def __init__(self):
            super().__init__(name="tiny")
            self.d = keras.layers.Dense(2)

        def call(self, x):
            return self.d(x)

    with pytest.raises(
        ValueError, match=re.escape("Call model.build(input_shape) or model(x_train[:1]) first.")
    ):
        kw.extract_activations(Tiny(), np.zeros((1, 3), "float32"))


def test_not_a_model_is_a_type_error(images):
    """Does passing an array instead of a model say what was expected and received?"""
    with pytest.raises(
        TypeError,
        match=re.escape(
            "needs a Keras model (keras.Model or keras.Sequential). Received: model of type numpy.ndarray"
        ),
    ):
        kw.ActivationExplorer(images[0], images[0])


def test_subclassed_model_that_is_not_a_chain_says_what_to_do(residual, images):
    """Is a skip connection detected (replay != model(x)) with the functional-API fix?"""
    with pytest.raises(ValueError, match=re.escape("is not a plain chain of its layers")) as info:
        kw.extract_activations(residual, images[0][:2])
    assert "keras.Model(inputs, outputs)" in str(info.value)


def test_models_with_two_inputs_are_refused_with_a_fix(keras):
    """Does a two-input model get a message with the sub-model fix?"""
    from keras import layers

    a, b = keras.Input((3,), name="a"), keras.Input((3,), name="b")
    model = keras.Model([a, b], layers.Dense(1)(layers.Concatenate()([a, b])), name="two")
    with pytest.raises(
        ValueError, match=re.escape("keras.Model(model.inputs[0], model.get_layer(NAME).output)")
    ):
        kw.layer_names(model)


def test_unknown_layer_lists_the_valid_names(cnn, images):
    """Does a wrong layer name list every valid one and suggest the closest?"""
    with pytest.raises(ValueError, match=re.escape(
        "Layer 'conv3' not found in model 'cnn'. Valid layer names: ['conv1', 'pool1', 'conv2', "
        "'flatten', 'hidden', 'out']. Received: layer='conv3'. Did you mean 'conv2'?"
    )):  # fmt: skip
        kw.extract_activations(cnn, images[0][:1], layer="conv3")


def test_layer_objects_are_accepted(cnn, images):
    """Can a layer be given as the layer object instead of its name?"""
    by_obj = kw.extract_activations(cnn, images[0][:1], layer=cnn.get_layer("conv2"))
    by_name = kw.extract_activations(cnn, images[0][:1], layer="conv2")
    np.testing.assert_array_equal(by_obj, by_name)


@pytest.mark.parametrize(
    ("make_x", "fix"),
    [(lambda x: x[..., 0], "Add the channel axis with x[..., None]"),
     (lambda x: x.reshape(len(x), -1), "Reshape it with x.reshape(-1, 28, 28, 1)."),
     (lambda x: np.zeros((2, 32, 32, 3), "float32"), "or one sample of shape (28, 28, 1).")],
    ids=["no-channel-axis", "flattened", "other-size"],
)  # fmt: skip
def test_wrong_input_shape_says_the_expected_shape(cnn, images, make_x, fix):
    """Does an input of the wrong shape get the expected shape and, when obvious, the fix?"""
    x = make_x(images[0][:4])
    with pytest.raises(
        ValueError, match=re.escape("but model 'cnn' expects samples of shape (28, 28, 1)")
    ) as info:
        kw.extract_activations(cnn, x)
    assert fix in str(info.value)


def test_one_sample_gets_a_batch_axis(cnn, images):
    """Is a single (28, 28, 1) image accepted and returned with a batch axis of 1?"""
    assert kw.extract_activations(cnn, images[0][0], layer="conv1").shape == (1, 26, 26, 4)


def test_every_public_name_resolves():
    """Does every name in kerascourse.widgets.__all__ import (lazily) without error?"""
    for name in kw.__all__:
        assert getattr(kw, name) is not None, name
    with pytest.raises(AttributeError, match="Public names"):
        kw.NoSuchExplorer  # noqa: B018
