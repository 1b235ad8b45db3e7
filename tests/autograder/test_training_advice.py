"""What a learner reads when the grader cannot train their model: each lab's own data,
losses and labels, built from its spec (issue 17: one sentence written for the image labs
told every learner about images and sparse categorical cross-entropy)."""

from __future__ import annotations

import pytest
from kerascourse.autograder.core.registry import get_lab, lab_ids

#: lab -> (phrases its advice must hold, phrases it must not). Every lab that exports a
#: model is listed: a new one fails here until its advice is checked.
EXPECTED = {
    "lab00_tf_keras_foundations": (
        ["standardised diabetes features", "mean squared error on 'target'", "R²",
         "q1_io_names_shapes"],
        ["image", "cross-entropy", "class labels"],
    ),
    "lab01_functional_api": (
        ["digit images", "sparse categorical cross-entropy on 'digit'", "integer class labels",
         "softmax", "accuracy"],
        ["binary", "squared error"],
    ),
    "lab02_multi_io_models": (
        ["pairs of 28x28", "inputs 'left' (28, 28, 1), 'right' (28, 28, 1)",
         "binary cross-entropy on 'same'", "sparse categorical cross-entropy on 'left_digit'",
         "accuracy of 'same'"],
        ["squared error"],
    ),
    "lab03_residual_inception": (
        ["digit images", "sparse categorical cross-entropy on 'digit'", "q1_inception_block"],
        ["binary", "squared error"],
    ),
    "lab05_transfer_learning": (
        ["letter images", "sparse categorical cross-entropy on 'letter'", "q1_io_and_base"],
        ["binary", "squared error"],
    ),
    "lab06_sentiment_lstm": (
        ["segmented reviews", "input 'review' ()", "binary cross-entropy on 'positive'",
         "0/1 labels", "sigmoid", "q1_pipeline"],
        ["image", "sparse categorical", "softmax"],
    ),
}  # fmt: skip


def test_every_lab_that_exports_a_model_is_covered():
    """Is every lab the model steps train listed (lab04 exports code, scored by its own
    scorer, which trains its own net and never reports this check)?"""
    model_labs = {lab_id for lab_id in lab_ids() if not get_lab(lab_id).exports_code}
    assert model_labs == set(EXPECTED)


@pytest.mark.parametrize("lab_id", sorted(EXPECTED))
def test_training_advice_names_the_labs_data_and_losses(lab_id):
    """Does the failed training check name this lab's data, loss per output and labels,
    and nothing of another lab's recipe?"""
    lab = get_lab(lab_id)
    result = lab.training_failed(ValueError("Arguments `target` and `output` must have the same"))
    assert not result.passed
    assert result.check == "training"
    assert "ValueError: Arguments `target` and `output` must have the same" in result.measured
    text = result.message()
    wanted, unwanted = EXPECTED[lab_id]
    for phrase in wanted:
        assert phrase in text, phrase
    for phrase in unwanted:
        assert phrase not in text, phrase
    assert lab.data_kind != "the grader's data"  # each lab says what its data is


def test_a_model_the_grader_cannot_train_gets_its_labs_advice():
    """Does a real failed run (lab00, a model built for 5 features fed the grader's 10)
    come back as the training check with lab00's advice, not an image lab's?"""
    import keras
    from keras import layers
    from kerascourse.autograder.trusted.measure import Measurer

    inputs = keras.Input(shape=(5,), name="features")
    outputs = layers.Dense(1, name="target")(layers.Dense(4)(inputs))
    measurer = Measurer(get_lab("lab00_tf_keras_foundations"))
    measurer.load(keras.Model(inputs, outputs).to_json())
    error = measurer.training.error
    assert error is not None
    assert error.check == "training"
    assert "the grader could not train your model" in error.measured
    assert "mean squared error on 'target' (1,)" in error.advice
    assert "image" not in error.message()
