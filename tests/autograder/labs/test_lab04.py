"""Lab 04: its notebook against its spec, the callback specification, the grader's runs
and checks, and the process boundary the learner's callback is run across (sandboxed
worker, weights as .npy only).

Its class is graded end to end once, where a learner submits it through JupyterLab:
tests/test_browser_flows.py (the browser learner's solution and a wrong submission, exact
per-cell scores, feedback, CSV and class report).
"""

from __future__ import annotations

import io
import json
import os
import re
import struct
import textwrap
from pathlib import Path

import numpy as np
import pytest
from kerascourse.autograder import sandbox, selfcheck
from kerascourse.autograder.core.config import GraderConfig, GraderConfigError
from kerascourse.autograder.core.results import SpecificationError
from kerascourse.autograder.labs import lab04_callbacks as lab04
from support import labcase

CASE = labcase.Case(
    "lab04_callbacks",
    "lab04",
    ("relative_early_stopping",),
    argument="RelativeEarlyStopping",
    export_cell="export_callback",
    export_call="selfcheck.callback_source(RelativeEarlyStopping)",
    long_cells=("relative_early_stopping",),
)
INFO = sandbox.detect()
needs_bwrap = pytest.mark.skipif(
    not INFO.sandboxed, reason=f"no bubblewrap sandbox here: {INFO.reason}"
)
#: The notebook's solution cell without the nbgrader markers.
SOLUTION = labcase.solution_sources(CASE.notebook, CASE.solution_cells)["relative_early_stopping"]
SOLUTION += "\n"


def _edit(old: str, new: str) -> str:
    assert old in SOLUTION, old
    return SOLUTION.replace(old, new)


def _class(source: str) -> type:
    namespace: dict = {}
    exec(compile(lab04.PRELUDE + source, "<test>", "exec"), namespace)  # noqa: S102
    return namespace[lab04.CLASS_NAME]


def _check(source: str, name: str):
    scorer = lab04.local_scorer(_class(source), GraderConfig().seed)
    result, error = scorer.run_check(name)
    return result, error


# ----------------------------------------------------------------------- the notebook


class TestNotebook(labcase.NotebookTests):
    """The checks every lab's notebook passes (tests/support/labcase.py)."""

    CASE = CASE


# ----------------------------------------------------------------------- the specification


def test_expected_run_follows_the_worked_example():
    """Is 0.795 after 0.8 a wait at 1 %, 0.79 an improvement, and the third wait a stop?"""
    values = (1.0, 0.8, 0.795, 0.79, 0.7, 0.699, 0.698, 0.697, 0.5, 0.4)
    run = lab04.expected_run(values, patience=3, min_relative_delta=0.01, epochs=10)
    assert run.actions == ["improved", "improved", "waited", "improved", "improved",
                           "waited", "waited", "stopped"]  # fmt: skip
    assert (run.best_epoch, run.best_value, run.epochs_run) == (4, 0.7, 8)
    assert run.decisions(values)[-1] == {"epoch": 4, "value": 0.7, "action": "restored"}


def test_expected_run_without_a_stop_and_cut_short():
    """Does a steady run use every epoch, and a run cut before its stop have no length?"""
    steady = lab04.expected_run([1.0, 0.9, 0.8], 2, 0.01, 3)
    assert (steady.actions, steady.epochs_run, steady.best_epoch) == (["improved"] * 3, 3, 2)
    cut = lab04.expected_run([1.0, 1.0], 3, 0.01, 10)  # a learner stopped after 2 epochs
    assert cut.epochs_run is None


def test_seeded_scenarios_change_with_the_seed():
    """Does a private seed give other scripts (and the public ones stay fixed)?"""
    a, b = lab04.scenarios(42), lab04.scenarios(7)
    assert a["relative_margin"] == b["relative_margin"]
    assert a["other_parameters"].scripts != b["other_parameters"].scripts
    assert a["fresh_state"].scripts != b["fresh_state"].scripts
    for sc in a.values():
        for script in sc.scripts:
            assert script is None or len(script) == sc.epochs


# ----------------------------------------------------------------------- checks, in-process


@pytest.fixture(scope="module")
def solution_scorer():
    return lab04.local_scorer(_class(SOLUTION), GraderConfig().seed)


def test_the_solution_passes_every_check(solution_scorer):
    """Does the notebook's solution pass all eight checks on the grader's runs?"""
    for name in lab04.STEPS:
        result, error = solution_scorer.run_check(name)
        assert result.passed, result.message()
        assert error is None
    runs = solution_scorer.measurements()["epochs_run"]
    assert runs["relative_margin"] == [8]
    assert runs["steady"] == [6]
    assert len(runs["fresh_state"]) == 2


WRONG = {
    "absolute margin": (
        ("value < self.best * (1 - self.min_relative_delta)",
         "value < self.best - self.min_relative_delta"),
        "relative_margin",
        "run 'relative_margin'",
    ),
    "never stops": (
        ('self.model.stop_training = action == "stopped"', "pass"),
        "stops",
        "it should run 8",
    ),
    "no restore": (
        ("self.model.set_weights(self.best_weights)", "pass"),
        "restores",
        "the model ended with epoch 7's weights; the best epoch was 4",
    ),
    "state kept between fits": (
        ("    def on_train_begin(self, logs=None):\n",
         "        self.on_fresh_start()\n\n    def on_fresh_start(self):\n"),
        "fresh_state",
        "(fit 2)",
    ),
    "log without values": (
        ('{"epoch": epoch, "value": value, "action": action}',
         '{"epoch": epoch, "action": action}'),
        "decision_log",
        "has keys ['action', 'epoch']",
    ),
}  # fmt: skip


@pytest.mark.parametrize("key", list(WRONG))
def test_each_mistake_fails_its_check_with_the_fix(key):
    """Does each classic mistake fail exactly the check meant for it, naming the run?"""
    (old, new), check, phrase = WRONG[key]
    result, error = _check(_edit(old, new), check)
    assert not result.passed
    assert isinstance(error, SpecificationError)
    assert phrase in result.message(), result.message()
    assert result.advice


def test_the_model_offers_three_things_only():
    """Does a callback reaching for the optimizer get told what it may use?"""
    source = _edit("value = float(logs[self.monitor])",
                   "value = float(logs[self.monitor]) + 0 * self.model.optimizer.learning_rate")  # fmt: skip
    result, _ = _check(source, "relative_margin")
    assert "self.model.optimizer is not available" in result.measured
    assert "on_epoch_end (epoch 0)" in result.measured
    proxy = lab04.ModelProxy(list, lambda ws: None)
    with pytest.raises(AttributeError, match=r"may set only self\.model\.stop_training"):
        proxy.optimizer = None


def test_selfcheck_wants_the_class():
    """Does passing an instance say to pass the class itself?"""
    with pytest.raises(TypeError, match="Pass the callback class itself"):
        selfcheck.lab04("q1_improvement", _class(SOLUTION)())


def test_callback_source_finds_the_defining_file(tmp_path):
    """Does the export read the text the class was defined in, and refuse a bare class?"""
    path = tmp_path / "cell.py"
    path.write_text(
        "import keras\n\nclass A(keras.callbacks.Callback):\n    def f(self):\n        pass\n"
    )
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102
    assert selfcheck.callback_source(namespace["A"]) == path.read_text()
    with pytest.raises(TypeError, match="define it with `class"):
        selfcheck.callback_source(type("B", (), {}))


def test_private_npz_is_refused_for_lab04():
    """Does a private .npz for lab04 stop grading before anyone, naming the seed instead?"""
    config = GraderConfig(labs={"lab04_callbacks": {"data": "x.npz", "data_sha256": "0" * 64}})
    with pytest.raises(GraderConfigError, match=r"grader's own training runs.*'seed'"):
        config.for_lab("lab04_callbacks")


# ----------------------------------------------------------------------- the wire


def test_the_wire_carries_arrays_and_refuses_pickles():
    """Do weights cross as .npy, and is a pickled object array refused, never loaded?"""
    r, w = os.pipe()
    wire = lab04.Wire(r, w)
    wire.send({"op": "weights"}, [np.arange(6, dtype="float32").reshape(2, 3)])
    header, arrays = wire.receive(5.0)
    assert header["op"] == "weights"
    assert arrays[0].shape == (2, 3)
    buf = io.BytesIO()
    np.save(buf, np.array([object()], dtype=object), allow_pickle=True)
    head = json.dumps({"op": "weights", "arrays": [len(buf.getvalue())]}).encode()
    os.write(w, struct.pack(">I", len(head)) + head + buf.getvalue())
    with pytest.raises(lab04.BridgeError, match=r"not \.npy"):
        wire.receive(5.0)
    os.write(w, struct.pack(">I", lab04.MAX_HEADER_BYTES + 1))
    with pytest.raises(lab04.BridgeError, match="message header"):
        wire.receive(5.0)
    with pytest.raises(TimeoutError):
        wire.receive(0.2)
    os.close(r)
    os.close(w)


def test_weights_of_the_wrong_shape_are_refused():
    """Does set_weights with other shapes say what the model has?"""
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=re.escape("shapes [(3, 2), (2,)]")):
        lab04.apply_weights(model, [np.zeros((2, 2)), np.zeros(2)])


# ----------------------------------------------------------------------- the sandboxed worker


def _box(secrets=()):
    return INFO, sandbox.SandboxPolicy(timeout=300.0), [Path(s) for s in secrets]


def test_sandboxed_worker_runs_a_chatty_callback_and_stops_a_hung_one():
    """Does print() stay out of the protocol, and a hook that hangs end the worker with
    the hook and epoch named?"""
    chatty = _edit("        value = float(logs[self.monitor])\n",
                   "        value = float(logs[self.monitor])\n        print('epoch', epoch, value)\n")  # fmt: skip
    scorer = lab04.CallbackScorer(
        lambda: lab04.SandboxedClient(chatty, lab04.CLASS_NAME, _box()), GraderConfig().seed
    )
    try:
        result, _ = scorer.run_check("relative_margin")
        assert result.passed, result.message()
    finally:
        scorer.close()
    hung = _edit("        value = float(logs[self.monitor])\n",
                 "        value = float(logs[self.monitor])\n        while epoch == 2:\n            pass\n")  # fmt: skip
    client = lab04.SandboxedClient(hung, lab04.CLASS_NAME, _box(), hook_timeout=3.0)
    worker = client.process.proc
    try:
        scorer = lab04.CallbackScorer(lambda: client, GraderConfig().seed)
        record = scorer.record("steady")
        assert "did not answer within 3 s (on_epoch_end, epoch 2)" in record.error
        assert worker.poll() is not None  # the worker was killed
        assert not client.workdir.exists()  # and its folder removed
        assert "did not answer" in scorer.record("relative_margin").error  # and stays broken
    finally:
        client.close()


def test_sandboxed_worker_reports_a_cell_that_cannot_run_alone():
    """Does an exported cell that uses a notebook variable fail with the fix named?"""
    with pytest.raises(lab04.BridgeError, match=r"NameError.*keep only imports and the class"):
        lab04.SandboxedClient("x = x_train.shape\n" + SOLUTION, lab04.CLASS_NAME, _box())


@needs_bwrap
def test_sandboxed_callback_cannot_read_the_graders_files(tmp_path):
    """Is a secret file (the private config) invisible to the learner's callback?"""
    secret = tmp_path / "private.toml"
    secret.write_text("seed = 918273\n")
    tmp_path.chmod(0o711)
    spy = textwrap.dedent(f"""
        class RelativeEarlyStopping(keras.callbacks.Callback):
            def __init__(self, **kwargs):
                super().__init__()
                try:
                    self.seen = open({str(secret)!r}).read()
                except OSError as err:
                    self.seen = type(err).__name__
            def on_train_begin(self, logs=None):
                self.decisions = [self.seen]
    """)
    client = lab04.SandboxedClient(spy, lab04.CLASS_NAME, _box([secret]))
    try:
        scorer = lab04.CallbackScorer(lambda: client, GraderConfig().seed)
        decisions = scorer.record("steady").fits[0].decisions
    finally:
        client.close()
    # Not there (hidden by an empty folder) or not reachable by the sandbox's own uid.
    assert decisions in (["FileNotFoundError"], ["PermissionError"])


def test_score_callback_refuses_what_cannot_be_graded():
    """Do a missing export, a syntax error and a missing class score 0 with the reason?"""
    from kerascourse.autograder.trusted import FLAG_NO_MODEL

    cases = {
        None: "no submission_callback.py was found",
        "class RelativeEarlyStopping(:\n": "does not parse",
        "class Other:\n    pass\n": "defines no class RelativeEarlyStopping",
    }
    for source, phrase in cases.items():
        result = lab04.score_callback(lab04.SPEC, source, GraderConfig())
        assert result.score == 0
        assert result.flags == [FLAG_NO_MODEL]
        assert phrase in result.cells["q1_improvement"].messages()[0]


def test_every_check_the_lab_names_is_a_step():
    """Does each grade cell's check name map to one of lab04's steps, all of them used?"""
    names = [name for cell in lab04.SPEC.autograded for name in cell.checks]
    assert sorted(names) == sorted(lab04.STEPS)
