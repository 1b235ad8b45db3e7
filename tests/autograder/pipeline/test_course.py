"""The nbgrader course directory and the release of lab01's student version."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from pathlib import Path

import nbformat
import pytest
from kerascourse.autograder.core.registry import get_lab
from kerascourse.autograder.core.spec import UnknownLabError
from kerascourse.autograder.pipeline import course
from traitlets.config.loader import PyFileConfigLoader

ROOT = Path(__file__).resolve().parents[3]
LAB = "lab01_functional_api"
# One worker runs this file under `pytest -n 2 --dist loadgroup`: nbgrader releases once.
pytestmark = pytest.mark.xdist_group("nbgrader_course")


def _load(config_path: Path):
    """Execute nbgrader_config.py the way nbgrader does (``c = get_config()``)."""
    return PyFileConfigLoader(config_path.name, str(config_path.parent)).load_config()


def test_setup_writes_an_nbgrader_config_nbgrader_can_load(tmp_path, monkeypatch):
    """Does the generated config set the course root, labs/, SQLite, timeouts and limits?"""
    for key in course.KERNEL_ENV:
        monkeypatch.setenv(key, "changed-by-test")  # restored afterwards
    path = course.setup_course(tmp_path / "course")
    cfg = _load(path)
    root = tmp_path / "course"
    assert cfg.CourseDirectory.root == str(root)
    assert cfg.CourseDirectory.source_directory == str(ROOT / "labs")
    assert cfg.CourseDirectory.db_url == f"sqlite:///{root / 'gradebook.db'}"
    assert "submission_model.json" in cfg.CourseDirectory.ignore
    assert cfg.Execute.timeout == course.CELL_TIMEOUT_S
    assert cfg.Execute.interrupt_on_timeout is True
    assert cfg.IgnorePattern.enabled is True
    assert cfg.IgnorePattern.pattern == course.IGNORE_PATTERN
    assert cfg.LimitOutput.max_lines == course.MAX_OUTPUT_LINES
    assert cfg.ClearSolutions.code_stub == {
        "python": "# YOUR CODE HERE\nraise NotImplementedError()"
    }
    # Grading kernels inherit nbgrader's environment: the config silences TensorFlow there.
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == "0"


def test_setup_is_idempotent_and_keeps_the_gradebook(tmp_path):
    """Does re-running the set-up rewrite the config and leave the gradebook alone?"""
    root = tmp_path / "course"
    course.setup_course(root, cell_timeout=60)
    (root / "gradebook.db").write_bytes(b"grades")
    path = course.setup_course(root)
    assert _load(path).Execute.timeout == course.CELL_TIMEOUT_S
    assert (root / "gradebook.db").read_bytes() == b"grades"


def test_setup_refuses_a_missing_labs_folder(tmp_path):
    """Does a wrong labs_dir say what it should point at?"""
    with pytest.raises(course.CourseSetupError, match=re.escape("the repository's labs/ folder")):
        course.setup_course(tmp_path / "course", labs_dir=tmp_path / "nope")


@pytest.mark.parametrize(
    "line",
    [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1795358231.141687   27627 port.cc:153] oneDNN custom operations are on.",
        "E0000 00:00:1795358231.187949   27627 cuda_dnn.cc:8310] Unable to register cuDNN factory",
        "2024-05-01 10:00:00.123456: I tensorflow/core/util/port.cc:113] oneDNN custom operations",
    ],
)
def test_ignore_pattern_drops_known_tensorflow_noise(line):
    """Does IgnorePattern's regex match TensorFlow's start-up noise on stderr?"""
    assert re.search(course.IGNORE_PATTERN, f"some output\n{line}\n")


@pytest.mark.parametrize(
    "line",
    [
        "Traceback (most recent call last):",
        "UserWarning: Do not pass an `input_shape`/`input_dim` argument to a layer.",
        "ValueError: Input 0 of layer 'conv2d' is incompatible with the layer",
        "Epoch 1/8",
    ],
)
def test_ignore_pattern_keeps_real_errors(line):
    """Does the regex leave tracebacks, warnings a learner can act on and progress alone?"""
    assert not re.search(course.IGNORE_PATTERN, line)


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """Run the real ``nbgrader generate_assignment`` once on a copy of labs/."""
    base = tmp_path_factory.mktemp("nbgrader")
    labs = base / "labs"
    shutil.copytree(ROOT / "labs", labs, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    (labs / LAB / "submission_model.json").write_text("{}")  # left by a run of the source
    root = base / "course"
    course.setup_course(root, labs_dir=labs)
    path = course.generate_assignment(root, LAB)
    return root, path


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def test_release_strips_solutions_and_hidden_tests(released):
    """Does the student version replace solutions with stubs and drop hidden tests?"""
    _, path = released
    assert path == released[0] / "release" / LAB / f"{LAB}.ipynb"
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    assert "BEGIN SOLUTION" not in text
    assert "BEGIN HIDDEN TESTS" not in text
    assert 'part="hidden"' not in text
    (solution,) = [c for c in nb.cells if _nbgrader(c).get("grade_id") == "build_model"]
    assert "# YOUR CODE HERE\n    raise NotImplementedError()" in solution.source
    assert "keras.Input" not in solution.source
    (written,) = [c for c in nb.cells if _nbgrader(c).get("grade_id") == "q4_written"]
    assert written.source == "YOUR ANSWER HERE"


def test_release_keeps_visible_tests_locked_with_checksums(released):
    """Are grade and read-only cells locked, checksummed and undeletable in the release?"""
    _, path = released
    nb = nbformat.read(path, as_version=4)
    lab = get_lab(LAB)
    tests = {
        _nbgrader(c)["grade_id"]: c
        for c in nb.cells
        if _nbgrader(c).get("grade") and c.cell_type == "code"
    }
    assert list(tests) == [cell.grade_id for cell in lab.autograded]
    for grade_id, cell in tests.items():
        assert cell.source.startswith(f'selfcheck.lab01("{grade_id}", model)')
        assert _nbgrader(cell)["locked"] is True
        assert _nbgrader(cell)["checksum"]
        assert cell.metadata["deletable"] is False
        assert cell.metadata["editable"] is False
    locked = [c for c in nb.cells if _nbgrader(c).get("locked")]
    assert {_nbgrader(c)["grade_id"] for c in locked} >= {"setup", "export_model"}
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_release_ships_only_the_notebook(released):
    """Is a stray submission_model.json in the lab folder kept out of the release?"""
    _, path = released
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_gradebook_records_the_grade_cells_with_their_points(released):
    """Does the SQLite gradebook hold every grade cell with the points of the lab spec?"""
    root, _ = released
    with sqlite3.connect(root / "gradebook.db") as db:
        rows = db.execute(
            "select b.name, g.max_score from grade_cells g join base_cell b on g.id = b.id"
        ).fetchall()
    expected = {cell.grade_id: float(cell.points) for cell in get_lab(LAB).grade_cells}
    assert dict(rows) == expected


def test_generate_rejects_an_unknown_lab(tmp_path):
    """Does a mistyped lab id list the valid ones before nbgrader runs?"""
    with pytest.raises(UnknownLabError, match=re.escape("Did you mean 'lab01_functional_api'?")):
        course.generate_assignment(tmp_path, "lab1_functional_api")
