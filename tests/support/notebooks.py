"""Simulated students for the grading tests: lab01 notebooks built from its release.

Why a module of its own: the end-to-end tests of the pipeline, the adversarial suite, each
lab's end-to-end test and the browser flow all build submissions the same way (a copy of
the release with some cells filled in). ``tests/`` is on ``sys.path`` (pyproject's
``pythonpath``), so tests say ``from support import notebooks as nbs``.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import nbformat
from kerascourse.autograder.pipeline import course as course_mod
from kerascourse.autograder.pipeline import prepare_course

ROOT = Path(__file__).resolve().parents[2]  # tests/support/ -> the repository
LAB = "lab01_functional_api"
SOURCE = ROOT / "labs" / LAB / f"{LAB}.ipynb"
CELLS = ["q1_io_names_shapes", "q1_architecture", "q2_budget", "q2_device", "q3_quality"]
POINTS = {"q1_io_names_shapes": 1, "q1_architecture": 2, "q2_budget": 2, "q2_device": 1}
POINTS["q3_quality"] = 3
#: The test grader config: 2 epochs (fast), threshold 0.5 and ratio 10 (wide margins).
TEST_CONFIG = "epochs = 2\nquality_threshold = 0.5\nmax_time_ratio = 10.0\n"
ANSWER = (
    "Subclass keras.Model when the forward pass needs Python control flow; the cost is "
    "that Keras cannot see the graph (no summary before it runs, harder to save)."
)

# ----------------------------------------------------------------------- cell factories


def build_model_source(*, hidden: int = 32, out_name: str = "digit", frozen: bool = False) -> str:
    """A `build_model` cell: the lab's CNN with knobs for the simulated students."""
    tail = "    return model\n"
    if frozen:  # nothing trains: the grader's accuracy stays at chance level
        tail = "    for layer in model.layers:\n        layer.trainable = False\n" + tail
    return (
        "def build_model():\n"
        '    inputs = keras.Input(shape=(28, 28, 1), name="image")\n'
        '    x = layers.Conv2D(16, 3, activation="relu", name="conv1")(inputs)\n'
        '    x = layers.MaxPooling2D(name="pool1")(x)\n'
        '    x = layers.Conv2D(32, 3, activation="relu", name="conv2")(x)\n'
        '    x = layers.MaxPooling2D(name="pool2")(x)\n'
        '    x = layers.Flatten(name="flatten")(x)\n'
        f'    x = layers.Dense({hidden}, activation="relu", name="hidden")(x)\n'
        f'    outputs = layers.Dense(10, activation="softmax", name="{out_name}")(x)\n'
        '    model = keras.Model(inputs=inputs, outputs=outputs, name="digits_cnn")\n' + tail
    )


def lab_solution_source() -> str:
    """The lab's own solution of `build_model`, delimiters removed."""
    cell = find(nbformat.read(SOURCE, as_version=4), "build_model")
    return "\n".join(ln for ln in cell.source.splitlines() if "### " not in ln)


def find(nb, grade_id: str):
    """The cell with this nbgrader grade id."""
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise KeyError(grade_id)


def index_of(nb, grade_id: str) -> int:
    return nb.cells.index(find(nb, grade_id))


def student(
    release, *, build: str | None = None, answer: str | None = ANSWER, written: str = "q4_written"
):
    """A copy of the release with `build_model` (None: left blank) and the written answer
    (in the cell `written`)."""
    nb = copy.deepcopy(release)
    if build is not None:
        find(nb, "build_model").source = build
    if answer is not None:
        find(nb, written).source = answer
    return nb


def add_code(nb, source: str, *, after: str | None = None, before: str | None = None):
    """Insert an ordinary (ungraded) code cell after/before a grade id, or at the end."""
    cell = nbformat.v4.new_code_cell(source)
    if after is not None:
        nb.cells.insert(index_of(nb, after) + 1, cell)
    elif before is not None:
        nb.cells.insert(index_of(nb, before), cell)
    else:
        nb.cells.append(cell)
    return nb


def write(nb, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def new_course(base: Path, *, cell_timeout: int = 300) -> tuple[Path, Path, object]:
    """A course folder with lab01 released; returns (course, release path, release nb)."""
    course = base / "course"
    course_mod.setup_course(course, ROOT / "labs", cell_timeout=cell_timeout)
    release = prepare_course(course, LAB)
    return course, release, nbformat.read(release, as_version=4)


def private_config(base: Path) -> Path:
    """The instructor's private config, outside the repository."""
    path = base / "private" / "grader.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TEST_CONFIG)
    return path


def run_cli(*args: str, retcode: int = 0, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run `kerascourse ARGS` and check its exit status."""
    proc = subprocess.run(
        [sys.executable, "-m", "kerascourse", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == retcode, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def cell_scores(record) -> dict[str, float]:
    return {gid: s["score"] for gid, s in record["scores"].items()}
