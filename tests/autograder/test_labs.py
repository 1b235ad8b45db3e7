"""Every lab after lab01: its source notebook matches its spec, and a class of two (the
solution and a wrong submission) goes through generate, grade, feedback and export with
exact scores. (lab01 has its own, larger suites: test_lab01.py, test_pipeline.py.)"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import importlib.util
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from kerascourse.autograder import course as course_mod
from kerascourse.autograder.labspec import get_lab

from kerascourse import release as release_mod

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Case:
    """One lab's simulated class: which cells the learner writes and what each earns."""

    lab_id: str
    selfcheck: str  # the selfcheck function its test cells call
    solution_cells: tuple[str, ...]  # grade ids of the solution regions
    wrong: dict[str, str]  # grade id -> source of the wrong student's cell
    wrong_lost: tuple[str, ...]  # the grade cells the wrong student scores 0 on
    wrong_feedback: tuple[str, ...] = field(default=())  # phrases on the wrong student's page
    argument: str = "model"  # what the test cells pass to selfcheck
    export_cell: str = "export_model"  # grade id of the last, locked cell
    export_call: str = "model.to_json()"  # what that cell writes
    # Cells allowed past the 15-line limit: a class the grader exports as one cell.
    long_cells: tuple[str, ...] = ()
    # Grade on a local Dask cluster (`kerascourse grade --dask`) instead of the process pool.
    dask: bool = False

    @property
    def lab(self):
        return get_lab(self.lab_id)

    @property
    def notebook(self) -> Path:
        return ROOT / "labs" / self.lab_id / self.lab.notebook


LAB00_WRONG = '''def make_architecture():
    inputs = keras.Input(shape=(10,), name="features")
    x = layers.Dense(16, activation="relu")(inputs)
    outputs = layers.Dense(1, activation="sigmoid", name="prediction")(x)
    return keras.Model(inputs, outputs)
'''
LAB02_WRONG = '''def build_model():
    left = keras.Input(shape=(28, 28, 1), name="left")
    right = keras.Input(shape=(28, 28, 1), name="right")
    a = layers.GlobalAveragePooling2D()(layers.Conv2D(8, 3, activation="relu")(left))
    b = layers.GlobalAveragePooling2D()(layers.Conv2D(8, 3, activation="relu")(right))
    hidden = layers.Dense(16, activation="relu")(layers.concatenate([a, b]))
    same = layers.Dense(1, activation="sigmoid", name="same")(hidden)
    digit = layers.Dense(10, activation="softmax", name="left_digit")(a)
    return keras.Model({"left": left, "right": right}, {"same": same, "left_digit": digit})
'''
LAB03_WRONG = '''def residual_block(x, filters, name, strides=1):
    y = conv_bn(x, filters, 3, f"{name}_a", strides=strides)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_b_conv")(y)
    y = layers.BatchNormalization(name=f"{name}_b_bn")(y)
    return layers.Activation("relu", name=f"{name}_out")(y)
'''
LAB04_WRONG = '''class RelativeEarlyStopping(keras.callbacks.Callback):
    def __init__(self, patience=3, min_relative_delta=0.01, monitor="val_loss"):
        super().__init__()
        self.patience, self.min_relative_delta, self.monitor = patience, min_relative_delta, monitor
        self.best, self.wait, self.decisions = math.inf, 0, []

    def on_epoch_end(self, epoch, logs=None):
        value = float(logs[self.monitor])
        if value < self.best * (1 - self.min_relative_delta):
            self.best, self.wait, action = value, 0, "improved"
        else:
            self.wait += 1
            action = "stopped" if self.wait >= self.patience else "waited"
            self.model.stop_training = action == "stopped"
        self.decisions.append({"epoch": epoch, "value": value, "action": action})
'''
LAB05_WRONG = '''def build_model():
    base = datasets.pretrained_base()
    base.trainable = False
    inputs = keras.Input(shape=(28, 28, 1), name="image")
    x = base(inputs, training=False)
    outputs = layers.Dense(10, activation="softmax", name="letter")(x)
    return keras.Model(inputs, outputs, name="features_only")
'''
LAB06_WRONG = """def build_model(vocabulary):
    review = keras.Input(shape=(), dtype="string", name="review")
    vectorize = layers.TextVectorization(vocabulary=vocabulary[:20], standardize=None,
                                         split="whitespace", output_sequence_length=50)
    x = layers.Embedding(vectorize.vocabulary_size(), 8)(vectorize(review))
    positive = layers.Dense(1, activation="sigmoid", name="positive")(
        layers.GlobalAveragePooling1D()(x))
    return keras.Model(review, positive)
"""
CASES = {
    "lab00": Case(
        "lab00_tf_keras_foundations",
        "lab00",
        ("make_architecture", "build_model"),
        # sigmoid output misnamed 'prediction', never compiled: R² 0.32 < 0.40
        {"make_architecture": LAB00_WRONG, "build_model": "def build_model():\n    return make_architecture()\n"},
        ("q1_io_names_shapes", "q2_tuned", "q3_quality"),
        ("the exported model was not compiled", "r2 0.32"),
    ),
    "lab02": Case(
        "lab02_multi_io_models",
        "lab02",
        ("build_encoder", "build_model"),
        # one small encoder per image (nothing shared): a same/different guess near chance
        {"build_model": LAB02_WRONG},
        ("q1_shared_encoder", "q3_quality"),
        ("no layer named 'encoder'",),
    ),
    "lab03": Case(
        "lab03_residual_inception",
        "lab03",
        ("inception_block", "residual_block"),
        # the shortcut forgotten: a plain block; the inception block is right
        {"residual_block": LAB03_WRONG},
        ("q2_residual_block", "q3_degradation"),
        ("no Add layer", "no plain twin can be made"),
    ),
    "lab04": Case(
        "lab04_callbacks",
        "lab04",
        ("relative_early_stopping",),
        # right decisions and stops, but state set once in __init__ and nothing restored
        {"relative_early_stopping": LAB04_WRONG},
        ("q3_restore", "q4_decision_log"),
        ("the model ended with epoch 7's weights; the best epoch was 4",),
        argument="RelativeEarlyStopping",
        export_cell="export_callback",
        export_call="selfcheck.callback_source(RelativeEarlyStopping)",
        long_cells=("relative_early_stopping",),
        dask=True,
    ),
    "lab05": Case(
        "lab05_transfer_learning",
        "lab05",
        ("build_model",),
        # the whole base frozen, no augmentation: feature extraction only, accuracy 0.74
        {"build_model": LAB05_WRONG},
        ("q3_quality",),
        ("accuracy 0.7425",),
    ),
    "lab06": Case(
        "lab06_sentiment_lstm",
        "lab06",
        ("build_vocabulary", "build_model"),
        # no recurrent layer, no mask, 20 words: an average of mostly padding, accuracy 0.60
        {"build_model": LAB06_WRONG},
        ("q3_quality", "q3_baseline"),
        ("accuracy 0.6048", "better than the baseline's accuracy 0.7650"),
    ),
}  # fmt: skip
IDS = list(CASES)


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _cell(nb, grade_id: str):
    (cell,) = [c for c in nb.cells if _meta(c).get("grade_id") == grade_id]
    return cell


# ----------------------------------------------------------------------- the notebooks


@pytest.mark.parametrize("key", IDS)
def test_grade_cells_match_the_lab_spec(key):
    """Are the notebook's grade cells, their order and points exactly the lab spec's?"""
    case = CASES[key]
    nb = nbformat.read(case.notebook, as_version=4)
    cells = [(_meta(c)["grade_id"], _meta(c)["points"], c.cell_type) for c in nb.cells
             if _meta(c).get("grade")]  # fmt: skip
    expected = [(g.grade_id, g.points, "markdown" if g.manual else "code")
                for g in case.lab.grade_cells]  # fmt: skip
    assert cells == expected
    nbformat.validate(nb)


@pytest.mark.parametrize("key", IDS)
def test_test_cells_are_locked_and_run_the_specs_checks(key):
    """Does each test cell run its visible checks first, then hidden ones in the markers?"""
    case = CASES[key]
    nb = nbformat.read(case.notebook, as_version=4)
    for spec in case.lab.autograded:
        cell = _cell(nb, spec.grade_id)
        assert _meta(cell)["locked"] is True
        lines = cell.source.splitlines()
        call = f'selfcheck.{case.selfcheck}("{spec.grade_id}", {case.argument}'
        assert lines[0] == call + ")"
        hidden = ["### BEGIN HIDDEN TESTS", call + ', part="hidden")', "### END HIDDEN TESTS"]
        assert lines[1:] == (hidden if spec.hidden else [])


@pytest.mark.parametrize("key", IDS)
def test_solutions_export_and_cell_hygiene(key):
    """Are the solution regions marked, the export last and locked, the cells short with
    prose before each, and the outputs cleared?"""
    case = CASES[key]
    nb = nbformat.read(case.notebook, as_version=4)
    for gid in case.solution_cells:
        cell = _cell(nb, gid)
        assert _meta(cell)["solution"] is True
        assert re.search(r"### BEGIN SOLUTION\n.+### END SOLUTION", cell.source, re.DOTALL)
    last = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert _meta(last)["grade_id"] == case.export_cell
    assert _meta(last)["locked"] is True
    assert f'open("{case.lab.export_file}", "w"' in last.source
    assert case.export_call in last.source
    for before, cell in zip(nb.cells, nb.cells[1:], strict=False):
        if cell.cell_type == "code":
            assert before.cell_type == "markdown", cell.source[:60]
            limit = 40 if _meta(cell).get("grade_id") in case.long_cells else 15
            assert len([ln for ln in cell.source.splitlines() if ln.strip()]) <= limit
            assert not cell.outputs
            assert cell.execution_count is None
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for cell in case.lab.grade_cells:
        assert f"`{cell.grade_id}`" in text


# ----------------------------------------------------------------------- end to end


def _pipeline_helpers():
    """The cell factories of test_pipeline.py (test modules are not a package)."""
    path = Path(__file__).with_name("test_pipeline.py")
    spec = importlib.util.spec_from_file_location("kc_grading_helpers", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def _local_dask_cluster():
    """Two single-threaded Dask worker processes; yields the address and 'host:pid' names."""
    import socket

    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:  # fmt: skip
        pids = client.run(os.getpid).values()
        yield cluster.scheduler_address, {f"{socket.gethostname()}:{pid}" for pid in pids}


ANSWER = "A short honest answer to the written question, for the instructor to grade."


@pytest.mark.slow
@pytest.mark.parametrize("key", IDS)
def test_a_class_of_two_is_graded_exactly(key, tmp_path):
    """Do the solution and a wrong submission get exactly full and the expected partial
    marks through generate, grade, feedback and export, with no hidden test line on any
    feedback page and the lab's metric in the class report?"""
    from kerascourse.autograder.feedback import feedback_path, hidden_lines, leaked_lines
    from kerascourse.autograder.pipeline import GradeOptions, grade_lab, prepare_course

    case, h = CASES[key], _pipeline_helpers()
    lab = case.lab
    course = tmp_path / "course"
    course_mod.setup_course(course, ROOT / "labs")
    release_path = prepare_course(course, lab.lab_id)
    release = nbformat.read(release_path, as_version=4)
    assert "BEGIN SOLUTION" not in json.dumps(release)
    committed = ROOT / "release" / lab.lab_id / release_path.name  # what Colab badges open
    assert release_mod.comparable(committed) == release_mod.comparable(release_path), (
        release_mod.stale_message(lab.lab_id)
    )
    source = nbformat.read(case.notebook, as_version=4)
    solution = {gid: "\n".join(ln for ln in _cell(source, gid).source.splitlines()
                               if "### " not in ln) for gid in case.solution_cells}  # fmt: skip
    students = {"solution": solution, "wrong": {**solution, **case.wrong}}
    for sid, cells in students.items():
        manual = next(c.grade_id for c in lab.grade_cells if c.manual)
        nb = h.student(release, answer=ANSWER, written=manual)
        for gid, text in cells.items():
            _cell(nb, gid).source = text
        h.write(nb, course / "submitted" / sid / lab.lab_id / lab.notebook)

    options = GradeOptions(jobs=2, timeout=600, progress=False)
    if case.dask:
        with _local_dask_cluster() as (address, workers):
            options = dataclasses.replace(options, dask_scheduler=address)
            report = grade_lab(lab.lab_id, course / "submitted", course, options)
        assert {report.record(sid)["graded_by"] for sid in students} <= workers
    else:
        report = grade_lab(lab.lab_id, course / "submitted", course, options)

    points = {c.grade_id: float(c.points) for c in lab.autograded}
    expected = {"solution": points, "wrong": {**points, **dict.fromkeys(case.wrong_lost, 0.0)}}
    for sid, cells in expected.items():
        rec = report.record(sid)
        assert rec["status"] == "graded", (sid, rec.get("reason"))
        assert h.cell_scores(rec) == cells, sid
        assert rec["score"] == sum(cells.values())
    hidden = hidden_lines(case.notebook)
    assert hidden
    for sid in expected:
        page = feedback_path(course, lab.lab_id, sid).read_text()
        assert leaked_lines(page, hidden) == [], sid
        assert "Score from the grader" in page
    wrong_page = feedback_path(course, lab.lab_id, "wrong").read_text()
    for phrase in case.wrong_feedback:
        assert phrase in wrong_page
    rows = {r["student_id"]: float(r["raw_score"]) for r in csv.DictReader(report.csv_path.open())}
    assert rows == {sid: sum(cells.values()) for sid, cells in expected.items()}
    report_page = report.report_path.read_text()
    if lab.submission == "model":
        assert f">{lab.metric}<" in report_page
    for cell in lab.autograded:  # the per-test table names every graded cell
        assert cell.grade_id in report_page
