"""Lab 06 (Chinese sentiment, LSTM): its notebook against its spec, segmentation, the
grader's data and baseline, the vocabulary travelling inside the exported architecture, and
a class of two graded end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from kerascourse.autograder.labs import lab06_sentiment_lstm as lab06
from kerascourse.autograder.trusted import STEPS
from support import labcase

from kerascourse import datasets

WRONG_MODEL = """def build_model(vocabulary):
    review = keras.Input(shape=(), dtype="string", name="review")
    vectorize = layers.TextVectorization(vocabulary=vocabulary[:20], standardize=None,
                                         split="whitespace", output_sequence_length=50)
    x = layers.Embedding(vectorize.vocabulary_size(), 8)(vectorize(review))
    positive = layers.Dense(1, activation="sigmoid", name="positive")(
        layers.GlobalAveragePooling1D()(x))
    return keras.Model(review, positive)
"""
CASE = labcase.Case(
    "lab06_sentiment_lstm",
    "lab06",
    ("build_vocabulary", "build_model"),
    # no recurrent layer, no mask, 20 words: an average of mostly padding, accuracy 0.60
    wrong={"build_model": WRONG_MODEL},
    wrong_lost=("q3_quality", "q3_baseline"),
    wrong_feedback=("accuracy 0.6048", "better than the baseline's accuracy 0.7650"),
)
LAB = CASE.lab


# ----------------------------------------------------------------------- the notebook


class TestNotebook(labcase.NotebookTests):
    """The checks every lab's notebook passes (tests/support/labcase.py)."""

    CASE = CASE


@pytest.fixture(scope="module")
def public_data():
    return lab06.grader_data(42)


# ----------------------------------------------------------------------- segmentation


def test_segment_cuts_words_and_drops_stop_words_and_spaces():
    """Is a review cut into words, lowercased, without stop words or whitespace tokens?"""
    out = lab06.segment(["这家酒店的服务员态度非常好", "iPod  不错 \u3000 IPOD", "的了"])
    assert out.dtype == object
    assert out.shape == (3,)
    assert out[0] == "这家 酒店 服务员 态度 好"  # 的 and 非常 are stop words
    assert out[1] == "ipod 不错 ipod"
    assert out[2] == ""  # only stop words: an empty review, not an error
    stop = datasets.stopwords_zh()
    assert not {w for text in out for w in text.split()} & stop


def test_segment_refuses_a_single_string_and_non_strings():
    with pytest.raises(TypeError, match=r"segment\(\[text\]\)"):
        lab06.segment("这家酒店很好")
    with pytest.raises(TypeError, match="needs str reviews"):
        lab06.segment([b"bytes"])


def test_segment_ignores_words_added_to_jiebas_global_dictionary():
    """Does a learner's jieba.add_word leave the grader's segmentation unchanged?"""
    import jieba

    before = lab06.segment(["房间很干净"])[0]
    jieba.add_word("房间很干净")
    try:
        assert jieba.lcut("房间很干净") == ["房间很干净"]
        lab06._segment_one.cache_clear()
        assert lab06.segment(["房间很干净"])[0] == before == "房间 很 干净"
    finally:
        jieba.del_word("房间很干净")


def test_segment_writes_nothing_to_stderr_in_a_fresh_process():
    """Is jieba silent on its first cut (stderr output fails an nbgrader grade cell)?"""
    code = "from kerascourse.autograder.labs.lab06_sentiment_lstm import segment; print(segment(['你好世界'])[0])"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert proc.stderr == ""
    assert proc.stdout.strip() == "你好 世界"


# ----------------------------------------------------------------------- grader data


def test_grader_data_is_segmented_seeded_and_labelled_right(public_data):
    """Are the grader's 8,000 training reviews segmented, drawn with the seed, and labelled
    as in the bundled data; is the test split the bundled one?"""
    x_train, y_train, x_test, y_test = public_data
    assert x_train.shape == (lab06.N_GRADER_TRAIN,)
    assert x_train.dtype == object
    assert y_train.dtype == np.int64
    assert set(np.unique(y_train)) == {0, 1}
    data = datasets.load("chinese_reviews")
    assert len(x_test) == len(data.x_test) == 1_736
    np.testing.assert_array_equal(y_test, data.y_test)
    assert list(x_test[:5]) == list(lab06.segment(data.x_test[:5]))
    texts = lab06.segment(list(data.x_train) + list(data.x_val))
    label_of = dict(zip(texts, np.concatenate([data.y_train, data.y_val]), strict=True))
    assert all(
        label_of[text] == label for text, label in zip(x_train[:200], y_train[:200], strict=True)
    )
    other = lab06.grader_data(918273)
    assert not np.array_equal(x_train, other[0])
    assert lab06.grader_data(42) is public_data  # cached: the self-check cells share it


def test_baseline_is_naive_bayes_on_the_same_words(public_data):
    """Is the bar what the docstring says on the public data, and a real classifier?"""
    assert lab06.baseline(*public_data) == pytest.approx(0.7650, abs=5e-4)
    x = np.array(["好 好 棒", "差 烂", "棒 好", "烂 差 差"], dtype=object)
    y = np.array([1, 0, 1, 0])
    assert lab06.baseline(x, y, x[::-1], y[::-1]) == 1.0


# ----------------------------------------------------------------------- the architecture


def test_the_vocabulary_travels_in_the_json_and_an_adapted_one_does_not():
    """Does the grader's rebuild keep a constructor vocabulary (and lose an adapted one)?"""
    import keras
    from kerascourse.autograder.checks.quality import predict_numpy, rebuild_model

    words = ["好", "差", "酒店", "不错"]
    model = lab06.reference_model(words)
    rebuilt = rebuild_model(model.to_json(), max_bytes=LAB.max_json_bytes)
    assert rebuilt.get_layer("vectorize").get_vocabulary() == ["", "[UNK]", *words]
    reviews = lab06.segment(["酒店不错", "差"])
    assert predict_numpy(rebuilt, reviews).shape == (2, 1)

    adapted = keras.layers.TextVectorization(standardize=None, split="whitespace")
    adapted.adapt(np.array(words))
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(adapted)))
    assert config["config"]["vocabulary"] is None


def test_the_reference_is_the_solution_size_within_every_budget():
    """Does the solution architecture (10,000 words) fit the parameter and JSON budgets?"""
    from kerascourse.autograder.checks.architecture import check_contains

    model = lab06.reference_model([f"词{i}" for i in range(lab06.MAX_TOKENS)])
    assert model.count_params() == 166_337 == 10_002 * 16 + 4 * 32 * (16 + 32 + 1) + 33
    assert model.count_params() < LAB.max_params
    assert len(model.to_json().encode()) < LAB.max_json_bytes / 4
    assert check_contains(model, LAB.required_layers).passed
    assert lab06.reference_model().count_params() == model.count_params()


def test_accuracy_reads_one_sigmoid_unit_with_0_1_labels():
    """Does the grader's accuracy threshold a (n, 1) probability at 0.5 against 0/1 labels?"""
    import keras
    from kerascourse.autograder.checks.quality import METRICS

    review = keras.Input(shape=(), dtype="string", name="review")
    vectorize = keras.layers.TextVectorization(
        vocabulary=["好", "差"], standardize=None, output_sequence_length=1
    )
    ids = vectorize(review)
    # a sigmoid of 5 - 2 * id: id 2 (好) -> 0.73, id 3 (差) -> 0.27
    x = keras.layers.Rescaling(-2.0, offset=5.0)(keras.layers.Reshape((1,))(ids))
    model = keras.Model(review, keras.layers.Activation("sigmoid", name="positive")(x))
    metric, higher_is_better = METRICS[LAB.metric]
    x_test = np.array(["好", "差", "好", "差"], dtype=object)
    assert metric(model, x_test, np.array([1, 0, 0, 0])) == 0.75
    assert higher_is_better


# ----------------------------------------------------------------------- spec and prose


def test_spec_cells_points_and_checks():
    """8 autograded points in four cells plus 2 manual, every check a grader step."""
    assert [(c.grade_id, c.points) for c in LAB.grade_cells] == [
        ("q1_pipeline", 2),
        ("q2_budget", 2),
        ("q3_quality", 2),
        ("q3_baseline", 2),
        ("q4_written", 2),
    ]
    assert sum(c.points for c in LAB.autograded) == 8
    assert LAB.max_score == 10
    assert {name for c in LAB.grade_cells for name in c.checks} <= set(STEPS)
    assert LAB.baseline is lab06.baseline
    assert LAB.public_data is lab06.grader_data


def test_prose_quotes_the_specs_budget_recipe_and_data():
    """Do the budget, recipe and data sizes the learner reads agree with the grader's?"""
    nb = CASE.read()
    text = " ".join(" ".join(c.source for c in nb.cells if c.cell_type == "markdown").split())
    recipe = LAB.recipe
    assert f"at most **{LAB.max_params:,} parameters**" in text
    assert f"public {LAB.quality_threshold:.2f}" in text
    assert f"learning rate {recipe.learning_rate:g}, batch size {recipe.batch_size}" in text
    assert f"{recipe.epochs} epochs" in text
    assert f"{lab06.N_GRADER_TRAIN:,} reviews" in text
    assert "naive Bayes" in text
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "from kerascourse.autograder.labs.lab06_sentiment_lstm import baseline, segment" in code


def test_a_private_data_file_is_refused_before_grading(tmp_path):
    """Is a private .npz for this text lab refused when the config is merged for it?"""
    import numpy as np
    from kerascourse.autograder.core.config import GraderConfig, GraderConfigError

    npz = tmp_path / "heldout.npz"
    np.savez(npz, x_train=np.zeros(1), y_train=np.zeros(1), x_test=np.zeros(1), y_test=np.zeros(1))
    config = GraderConfig(data=str(npz), data_sha256="0" * 64)
    with pytest.raises(GraderConfigError, match=r"is graded on text.+set a private 'seed'"):
        config.for_lab("lab06_sentiment_lstm")


# ----------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_a_class_of_two_is_graded_exactly(lab_course, tmp_path):
    """Do the solution and a wrong submission get exactly full and the expected partial
    marks through generate, grade, feedback and export, with no hidden test line on any
    feedback page, the lab's metric in the class report, and no error or stderr in the
    solution's graded run?"""
    labcase.grade_a_class_of_two(CASE, lab_course, tmp_path / "submitted")
