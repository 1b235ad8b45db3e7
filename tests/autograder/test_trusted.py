"""The trusted scorer and its config: scores from a rebuilt model, grader data, fixed seed."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import keras
import nbformat
import numpy as np
import pytest
from keras import layers
from kerascourse.autograder import ArchitectureError, GraderBugError, selfcheck, trusted
from kerascourse.autograder.core.config import (
    CONFIG_ENV,
    GraderConfig,
    GraderConfigError,
    PrivateConfigWarning,
    load_config,
    sha256_file,
)
from kerascourse.autograder.core.registry import get_lab, lab_ids
from kerascourse.autograder.core.results import CheckResult
from kerascourse.autograder.core.spec import UnknownLabError
from kerascourse.datasets import DataIntegrityError

ROOT = Path(__file__).resolve().parents[2]
LAB = "lab01_functional_api"
NOTEBOOK = ROOT / "labs" / LAB / f"{LAB}.ipynb"
AUTOGRADED = ["q1_io_names_shapes", "q1_architecture", "q2_budget", "q2_device", "q3_quality"]


@pytest.fixture(autouse=True)
def restore_op_determinism():
    """The trusted scorer turns TF op determinism on process-wide; undo it after each test."""
    yield
    if keras.backend.backend() == "tensorflow":
        from tensorflow.python.framework import config as tf_config

        tf_config.disable_op_determinism()


def solution_build_model():
    """``build_model`` from the lab's source notebook (its solution cell), executed here."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    (cell,) = [
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "build_model"
    ]
    namespace = {"keras": keras, "layers": layers}
    exec(cell.source, namespace)  # noqa: S102 - the lab's own solution cell, not student code
    return namespace["build_model"]


def _write(path: Path, model) -> Path:
    path.write_text(model.to_json(), encoding="utf-8")
    return path


def _cnn(*, input_shape=(28, 28, 1), dense=None, lam=False):
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Conv2D(8, 3, activation="relu")(inputs)
    if lam:
        x = layers.Lambda(lambda t: t * 2.0, name="double")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    if dense:
        x = layers.Dense(dense, activation="relu", name="big")(x)
    outputs = layers.Dense(10, activation="softmax", name="digit")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    """A small grader-held .npz (a slice of digits28) and its SHA256."""
    from kerascourse import datasets

    data = datasets.load("digits28")
    path = tmp_path_factory.mktemp("grader") / "heldout.npz"
    np.savez(
        path,
        x_train=data.x_train[:192],
        y_train=data.y_train[:192],
        x_test=data.x_test[:96],
        y_test=data.y_test[:96],
    )
    return path, sha256_file(path)


def _private_toml(tmp_path: Path, data: Path, sha: str, **lab_values) -> Path:
    lines = ["seed = 7", "", f"[{LAB}]", "epochs = 2", f'data = "{data}"', f'data_sha256 = "{sha}"']
    lines += [f"{k} = {v!r}" for k, v in lab_values.items()]
    path = tmp_path / "private.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def small_config(tmp_path, small_data):
    """A private config: 2 epochs on the small .npz (fast scorings)."""
    return load_config(_private_toml(tmp_path, *small_data))


@pytest.fixture(scope="module")
def solution_json(tmp_path_factory):
    return _write(
        tmp_path_factory.mktemp("sol") / "submission_model.json", solution_build_model()()
    )


# --------------------------------------------------------------------------- scores


def test_over_budget_model_loses_q2_budget_naming_the_largest_layer(tmp_path, small_config):
    """Does a Dense(512) after Flatten fail the budget with advice naming that layer?"""
    path = _write(tmp_path / "big.json", _cnn(dense=512))
    result = trusted.score_submission(LAB, path, small_config)
    budget = result.cells["q2_budget"]
    assert budget.score == 0
    failed = [msg for msg in budget.messages() if msg.startswith("[FAILED] parameters")]
    assert failed, budget.messages()
    assert "Dense(512) 'big' after Flatten" in failed[0]
    assert "allowed: at most 60,000" in failed[0]
    assert result.cells["q1_io_names_shapes"].score == 1  # the rest is judged on its own


def test_lambda_layer_is_refused_with_the_reason(tmp_path, small_config):
    """Is a JSON with a Lambda layer refused unbuilt: 0 everywhere, flag and message?"""
    path = _write(tmp_path / "lam.json", _cnn(lam=True))
    result = trusted.score_submission(LAB, path, small_config)
    assert result.score == 0
    assert result.flags == [trusted.FLAG_REFUSED]
    for cell in result.cells.values():
        assert "your model uses a Lambda layer 'double'" in cell.messages()[0]
    assert result.measurements == {}  # nothing was built or trained


def test_wrong_input_shape_fails_q1_with_the_fix(tmp_path, small_config):
    """Does a (32, 32, 1) input fail q1_io_names_shapes, saying the expected shape?"""
    path = _write(tmp_path / "shape.json", _cnn(input_shape=(32, 32, 1)))
    result = trusted.score_submission(LAB, path, small_config)
    q1 = result.cells["q1_io_names_shapes"]
    assert q1.score == 0
    assert "input 'image' has shape (32, 32, 1); expected (28, 28, 1)" in q1.messages()[0]
    assert result.cells["q3_quality"].score == 0  # the grader's images do not fit it
    assert "could not train your model" in result.cells["q3_quality"].messages()[0]
    assert result.flags == []  # the submission's fault, not a grader error


@pytest.mark.parametrize(
    ("content", "flag", "snippet"),
    [
        (None, trusted.FLAG_NO_MODEL, "no submission_model.json was found"),
        ("", trusted.FLAG_NO_MODEL, "no submission_model.json was found"),
        ("{not json", trusted.FLAG_NO_MODEL, "not valid JSON"),
        ('{"class_name": "Dense", "config": {}}', trusted.FLAG_REFUSED, "not a model"),
        ("x" * 1_000_001, trusted.FLAG_NO_MODEL, "1,000,001 bytes"),
    ],
    ids=["missing", "empty", "invalid", "not-a-model", "oversized"],
)
def test_unusable_export_scores_zero_with_a_flag(tmp_path, content, flag, snippet):
    """Does a missing, empty, invalid, non-model or oversized file score 0 with a reason?"""
    path = tmp_path / "submission_model.json"
    if content is not None:
        path.write_text(content)
    result = trusted.score_submission(LAB, path, GraderConfig())
    assert result.score == 0
    assert result.max_score == 9
    assert result.flags == [flag]
    assert all(snippet in cell.messages()[0] for cell in result.cells.values())


def test_same_submission_scores_identically_ten_times(tmp_path, small_data, solution_json):
    """Do 10 scorings of one submission give the same scores and the same accuracy?

    The time ratio is wall-clock: on this config's 6-step epochs it rests on one steady
    epoch per model, and a busy CI neighbour (the other pytest worker) can push one sample
    past 3x. So the ratio gets the same wide margin as the pipeline tests' config; every
    other score and the accuracy must be identical to the last digit.
    """
    config = load_config(_private_toml(tmp_path, *small_data, max_time_ratio=10.0))
    runs = [trusted.score_submission(LAB, solution_json, config) for _ in range(10)]
    scores = {json.dumps(r.scores(), sort_keys=True) for r in runs}
    accuracies = {r.measurements["accuracy"] for r in runs}
    assert len(scores) == 1, scores
    assert len(accuracies) == 1, accuracies


def test_private_config_overrides_threshold_and_data(tmp_path, small_data, solution_json):
    """Does a private TOML replace the public threshold and train on the instructor's data?"""
    config = load_config(_private_toml(tmp_path, *small_data, quality_threshold=0.999))
    result = trusted.score_submission(LAB, solution_json, config)
    quality = result.cells["q3_quality"]
    assert quality.score == 0
    assert "allowed: accuracy at least 0.999" in quality.messages()[0]
    assert result.measurements["data"] == "private: heldout.npz"
    assert result.config["seed"] == 7
    assert result.config["epochs"] == 2
    assert len(result.measurements["epoch_times"]) == 2


def test_grader_data_with_a_wrong_hash_is_refused(tmp_path, small_data, solution_json):
    """Does grader data whose SHA256 differs from the config stop scoring with both hashes?"""
    path, _ = small_data
    config = load_config(_private_toml(tmp_path, path, "0" * 64))
    with pytest.raises(DataIntegrityError, match=re.escape("update data_sha256 (sha256sum FILE)")):
        trusted.score_submission(LAB, solution_json, config)


@pytest.mark.slow
def test_cli_scores_in_a_fresh_process(tmp_path, small_data, solution_json):
    """Does the CLI write a result file in a new process, and exit 2 on a bad hash?"""
    config = _private_toml(tmp_path, *small_data)
    out = tmp_path / "result.json"
    cmd = [sys.executable, "-m", "kerascourse.autograder.trusted", "--lab", LAB,
           "--model", str(solution_json), "--out", str(out), "--config", str(config)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    data = json.loads(out.read_text())
    assert data["lab_id"] == LAB
    assert list(data["cells"]) == AUTOGRADED
    assert data["cells"]["q1_io_names_shapes"]["score"] == 1
    assert data["config"]["data_sha256"].count("…") == 1  # shortened, never the whole hash
    assert data["config"]["data"] == "heldout.npz"  # the file name, not the private path
    assert data["config"]["source"] == "private.toml"
    bad = _private_toml(tmp_path, small_data[0], "f" * 64)
    proc = subprocess.run([*cmd[:-1], str(bad)], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert "does not match the config" in proc.stderr


# --------------------------------------------------------------------------- self-check


def test_selfcheck_raises_the_graders_message(tmp_path, small_config):
    """Does the in-kernel self-check raise exactly the message the trusted grader reports?"""
    model = _cnn(input_shape=(32, 32, 1))
    with pytest.raises(ArchitectureError) as info:
        selfcheck.lab01("q1_io_names_shapes", model)
    graded = trusted.score_json(LAB, model.to_json(), small_config)
    failed = [m for m in graded.cells["q1_io_names_shapes"].messages() if m.startswith("[FAILED]")]
    assert str(info.value) == failed[0]


def test_selfcheck_refuses_a_lambda_model_like_the_grader():
    """Does the self-check refuse a Lambda model with the grader's refusal?"""
    with pytest.raises(ArchitectureError, match=re.escape("uses a Lambda layer 'double'")):
        selfcheck.lab01("q1_io_names_shapes", _cnn(lam=True))


def test_selfcheck_rejects_an_unknown_part_and_grade_id():
    """Do a wrong part or grade id name the valid choices?"""
    model = _cnn()
    with pytest.raises(ValueError, match=re.escape("['visible', 'hidden', 'all']")):
        selfcheck.lab01("q1_io_names_shapes", model, part="secret")
    with pytest.raises(UnknownLabError, match=re.escape("Did you mean 'q2_budget'?")):
        selfcheck.lab01("q2_budgte", model)


def test_selfcheck_has_one_shortcut_per_registered_lab():
    """Is there a ``selfcheck.labNN`` for every lab of the registry, and does a wrong
    number list the ones there are?"""
    want = {lab_id.split("_")[0]: lab_id for lab_id in lab_ids()}
    assert selfcheck.shortcuts() == want
    assert set(want) <= set(dir(selfcheck))
    for name, lab_id in want.items():
        assert getattr(selfcheck, name) is getattr(selfcheck, name)
        assert lab_id in getattr(selfcheck, name).__doc__
    with pytest.raises(AttributeError, match=re.escape("lab01 (lab01_functional_api)")):
        selfcheck.lab99  # noqa: B018 - the attribute access is the test
    assert not hasattr(selfcheck, "no_such_name")


# --------------------------------------------------------------------------- lab hooks


def _lab_with(monkeypatch, **changes):
    """LAB's spec with `changes`, as the engine's registry returns it."""
    from kerascourse.autograder.trusted import engine

    spec = dataclasses.replace(get_lab(LAB), **changes)
    monkeypatch.setattr(engine, "get_lab", lambda lab_id: spec)
    return spec


def test_a_lab_that_scores_its_own_export_is_handed_it(tmp_path, monkeypatch):
    """Does the engine give a lab's ``score_export`` the exported text, its path, the
    config and the sandbox, and return that lab's result as it is?"""
    seen = {}

    def score_export(lab, source, config, *, path, sandbox):
        seen.update(lab=lab, source=source, config=config, path=path, sandbox=sandbox)
        return "the lab's result"

    spec = _lab_with(monkeypatch, submission="callback", score_export=score_export)
    path = tmp_path / "submission_callback.py"
    path.write_text("class A:\n    pass\n")
    config, box = GraderConfig(), ("info", "policy", [])
    assert trusted.score_submission(LAB, path, config, sandbox=box) == "the lab's result"
    assert seen == {
        "lab": spec,
        "source": "class A:\n    pass\n",
        "config": config,
        "path": str(path),
        "sandbox": box,
    }
    path.write_text("")
    trusted.score_submission(LAB, path, config)
    assert seen["source"] is None
    assert seen["sandbox"] is None


def test_a_lab_that_exports_code_without_a_scorer_is_a_grader_bug(tmp_path, monkeypatch):
    """Is a spec that exports code but registers no ``score_export`` refused by name?"""
    _lab_with(monkeypatch, submission="callback")
    with pytest.raises(GraderBugError, match=re.escape("set LabSpec.score_export")):
        trusted.score_submission(LAB, tmp_path / "submission_callback.py", GraderConfig())


def test_the_helpers_a_lab_scores_with():
    """Do ``zero_result`` and ``score_cell`` score like the engine: 0 with the reason and
    flag on every cell; a cell all-or-nothing, a grader bug flagged once?"""
    lab = get_lab(LAB)
    reason = CheckResult("export", False, "nothing", "a file", "Export it.")
    zero = trusted.zero_result(lab, "x.json", reason, trusted.FLAG_NO_MODEL, {"seed": 1})
    assert list(zero.cells) == AUTOGRADED
    assert zero.score == 0
    assert zero.max_score == 9
    assert zero.flags == [trusted.FLAG_NO_MODEL]
    assert all(cell.results == [reason] for cell in zero.cells.values())

    def broken(subject):
        raise RuntimeError("a grader bug")

    steps = {"ok": lambda subject: CheckResult("ok", True, "fine", "fine"), "bug": broken}

    class Runner:
        def run_check(self, name):
            return trusted.run_step(steps, name, self, LAB)

    cell = dataclasses.replace(lab.cell("q1_architecture"), visible=("ok",), hidden=())
    flags: list[str] = []
    assert trusted.score_cell(Runner(), cell, flags).score == cell.points
    bugged = dataclasses.replace(cell, hidden=("bug", "bug"))
    scored = trusted.score_cell(Runner(), bugged, flags)
    assert scored.score == 0
    assert scored.results[1].check == "bug (grader error)"
    assert flags == [trusted.FLAG_GRADER_ERROR]


# --------------------------------------------------------------------------- spec & config


def test_every_check_the_lab_names_is_a_grading_step():
    """Does every check name in the lab spec map to a step of the trusted scorer?"""
    names = {name for cell in get_lab(LAB).grade_cells for name in cell.checks}
    assert names
    assert names <= set(trusted.STEPS)


def test_unknown_lab_lists_the_valid_ids():
    """Does a typo in the lab id list the known labs?"""
    with pytest.raises(UnknownLabError, match=re.escape("Did you mean 'lab01_functional_api'?")):
        get_lab("lab01_functional")


def test_public_defaults_without_a_config(monkeypatch):
    """With no --config and no environment variable, are the public defaults used?"""
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    config = load_config()
    assert config.source == "public defaults"
    assert not config.is_private


def test_config_path_comes_from_the_environment(tmp_path, monkeypatch, small_data):
    """Is $KERASCOURSE_GRADER_CONFIG read when no path is given?"""
    path = _private_toml(tmp_path, *small_data)
    monkeypatch.setenv(CONFIG_ENV, str(path))
    config = load_config()
    assert config.is_private
    assert config.for_lab(LAB).epochs == 2
    assert config.for_lab(LAB).seed == 7


@pytest.mark.parametrize(
    ("text", "fix"),
    [
        ("seed = 1\nthreshold = 0.9\n", "Available: ['data', 'data_sha256', 'device_policy'"),
        ("[lab01_functionl_api]\nepochs = 3\n", "Did you mean 'lab01_functional_api'?"),
        (f"[{LAB}]\nquality_threshold = 1.5\n", "must be a number in (0, 1]"),
        ('device_policy = "gpu"\n', "must be one of ['auto', 'always', 'never']"),
        ('data = "x.npz"\n', "Compute the hash with `sha256sum FILE`"),
        ("epochs = 1\n", "must be an integer >= 2"),
        ("seed = \n", "is not valid TOML"),
    ],
    ids=[
        "unknown-key",
        "unknown-lab",
        "threshold",
        "policy",
        "data-without-hash",
        "epochs",
        "toml",
    ],
)
def test_bad_config_says_what_to_fix(tmp_path, text, fix):
    """Does each kind of bad config raise GraderConfigError with the fix?"""
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(GraderConfigError, match=re.escape(fix)):
        load_config(path)


def test_missing_config_file_names_the_way_out(tmp_path):
    """Does a config path that does not exist say how to fall back to the defaults?"""
    with pytest.raises(GraderConfigError, match=re.escape(f"or unset {CONFIG_ENV}")):
        load_config(tmp_path / "nope.toml")


def test_config_inside_the_repository_warns(tmp_path, monkeypatch):
    """Is a private config kept inside the course repository flagged as readable?"""
    import kerascourse.autograder.core.config as config_module

    (tmp_path / ".git").mkdir()
    monkeypatch.setattr(config_module, "REPO_ROOT", tmp_path)
    path = tmp_path / "grading.toml"
    path.write_text("seed = 3\n")
    with pytest.warns(PrivateConfigWarning, match="Move it outside"):
        load_config(path)
