"""No lab's solution is within a learner's reach: not in any ``kerascourse`` module (which a
learner's kernel can import), not in what the sandbox shows a graded kernel, and the
timing references that do ship are timed, never graded.

Why these tests (issue 17): the grader's reference models used to be the labs' solutions
and lived in the package, so ``from kerascourse.autograder.labs.lab05_transfer_learning
import build_reference`` handed in full marks. The solutions now live only in the nbgrader
source notebooks (``labs/<lab_id>/``) and the tests read them from there
(``tests/support/solutions.py``).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib
import importlib.util
import inspect
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kerascourse.autograder.core.registry import get_lab, lab_ids
from kerascourse.autograder.core.results import ArchitectureError
from kerascourse.autograder.sandbox.argv import exposed_paths, kit_package_dirs
from kerascourse.autograder.sandbox.policy import KIT_PACKAGES
from support import solutions

ROOT = Path(__file__).resolve().parents[2]
#: Solution lines shorter than this are too generic to mean anything (``return model``).
MIN_LINE = 25
#: Names of the solution builders the package held before issue 17, and the names the
#: notebooks' solution cells define: none may be defined by a package module.
OLD_BUILDERS = {
    "build_reference",
    "reference_model",
    "_lab02_reference_model",
    "_lab03_residual_block",
    "_lab03_inception_block",
    "_lab03_reference_model",
}


def _norm(line: str) -> str:
    return " ".join(line.split())


def package_files() -> list[Path]:
    """Every .py file of the installed package, as a learner's ``import`` finds it."""
    files: set[Path] = set()
    for name in KIT_PACKAGES:
        spec = importlib.util.find_spec(name)
        assert spec is not None, name
        assert spec.submodule_search_locations, name
        for folder in spec.submodule_search_locations:
            files.update(Path(folder).rglob("*.py"))
    assert len(files) > 60  # the real package, not an empty folder
    return sorted(files)


@pytest.fixture(scope="module")
def package_lines() -> dict[str, Path]:
    """Normalised line -> a package file that holds it."""
    return {_norm(line): path for path in package_files()
            for line in path.read_text(encoding="utf-8").splitlines()}  # fmt: skip


def _notebook_lines(path: Path) -> set[str]:
    return {_norm(line) for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]
            for line in "".join(cell["source"]).splitlines()}  # fmt: skip


def _handed_functions(path: Path) -> Iterator[Any]:
    """The functions a notebook imports from the kit (``from kerascourse... import f``)."""
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        try:
            tree = ast.parse("".join(cell["source"])) if cell["cell_type"] == "code" else None
        except SyntaxError:  # IPython magics
            continue
        for node in tree.body if tree else []:
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kerascourse"):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    handed = getattr(module, alias.name, None)  # None: a submodule
                    if inspect.isfunction(handed):
                        yield handed


@functools.cache
def given_lines() -> frozenset[str]:
    """Lines every learner is handed anyway: the student versions (``release/``) and the
    chapters, prose included, and the source of each function a student version imports
    from the kit (lab03's ``lab03_network`` states the lab's input and output)."""
    notebooks = [*(ROOT / "release").glob("*/*.ipynb"), *(ROOT / "chapters").glob("*.ipynb")]
    assert len(notebooks) >= 2 * len(lab_ids())
    given: set[str] = set()
    for path in notebooks:
        given |= _notebook_lines(path)
        for handed in _handed_functions(path):
            given |= {_norm(line) for line in inspect.getsource(handed).splitlines()}
    return frozenset(given)


def distinctive_lines(lab_id: str) -> list[str]:
    """The solution regions' lines a learner is not handed anyway (:func:`given_lines`),
    long enough to mean something."""
    lines = [_norm(line) for line in solutions.solution_regions(lab_id)]
    return [line for line in lines if len(line) >= MIN_LINE and line not in given_lines()]


@pytest.mark.parametrize("lab_id", lab_ids())
def test_no_solution_line_ships_in_the_package(lab_id, package_lines):
    """Is every distinctive line of the lab's solution absent from the package's code?"""
    lines = distinctive_lines(lab_id)
    assert lines, "no solution line to compare: is the notebook's solution empty?"
    shipped = {line: str(package_lines[line].relative_to(ROOT)) for line in lines
               if line in package_lines}  # fmt: skip
    assert shipped == {}, f"{lab_id}'s solution ships in the package (line -> file)"


def test_the_line_comparison_catches_a_shipped_solution():
    """Would the comparison have caught the solution builders the package held before?
    (Each old builder's text, as it was, holds distinctive lines of its lab's solution.)"""
    old = """    x = layers.RandomTranslation(0.1, 0.1, name="shift")(x)
    x = layers.Dropout(0.3, name="head_dropout")(x)
    outputs = layers.Dense(10, activation="softmax", name="letter")(x)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_b_conv")(y)
    y = layers.add([y, shortcut], name=f"{name}_add")
    joined = layers.concatenate([a, b, layers.multiply([gap, gap])])
"""
    shipped = {_norm(line) for line in old.splitlines()}
    for lab_id in ("lab02_multi_io_models", "lab03_residual_inception", "lab05_transfer_learning"):
        assert shipped & set(distinctive_lines(lab_id)), lab_id


def test_no_package_module_defines_a_solution_builder():
    """Does no package module define a name a solution cell defines, or an old builder?"""
    solved: dict[str, str] = {}
    for lab_id in lab_ids():
        for source in solutions.solution_cells(lab_id):
            for node in ast.parse(source).body:
                if isinstance(node, ast.FunctionDef | ast.ClassDef):
                    solved[node.name] = lab_id
    assert {"build_model", "residual_block", "inception_block", "RelativeEarlyStopping"} <= set(
        solved
    )
    banned = set(solved) | OLD_BUILDERS
    defined = [(path.relative_to(ROOT).as_posix(), node.name) for path in package_files()
               for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
               if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in banned]  # fmt: skip
    assert defined == []


# ----------------------------------------------------------------------- timing references


def _timed_labs() -> list[str]:
    return [lab_id for lab_id in lab_ids() if get_lab(lab_id).reference_model is not None
            and not get_lab(lab_id).exports_code]  # fmt: skip


def test_labs_that_grade_epoch_time_have_a_reference_and_the_others_none():
    """Does every lab with an epoch_time_ratio check time a reference (two epochs or more,
    so one is left after the first is dropped), and no other model lab build one?"""
    for lab_id in lab_ids():
        lab = get_lab(lab_id)
        if lab.exports_code:
            continue
        timed = any("epoch_time_ratio" in cell.checks for cell in lab.grade_cells)
        has_reference = lab.reference_model is not None and lab.recipe.reference_epochs > 0
        assert timed == has_reference, lab_id
        if timed:
            assert lab.recipe.reference_epochs >= 2, lab_id
    assert len(_timed_labs()) >= 4


@pytest.mark.parametrize("lab_id", _timed_labs())
def test_a_timing_reference_handed_in_fails_the_interface(lab_id):
    """Would a learner who exports the shipped timing reference fail the outputs check?
    (One output, ``reference_out``, none of the lab's.)"""
    from kerascourse.autograder.checks.architecture import check_outputs
    from kerascourse.autograder.checks.quality import rebuild_model

    lab = get_lab(lab_id)
    rebuilt = rebuild_model(lab.reference_model().to_json(), max_bytes=lab.max_json_bytes)
    assert rebuilt.output_names == ["reference_out"]
    with pytest.raises(ArchitectureError, match="output"):
        check_outputs(rebuilt, lab.outputs)


def test_the_students_run_is_the_same_with_or_without_the_reference():
    """Does the reference (built, then trained between the student's epochs) leave the
    student's seeded run untouched? (Its zeros and its own seed generators: a new reference
    never moves a score.)"""
    from kerascourse.autograder.trusted.measure import Measurer

    lab = get_lab("lab00_tf_keras_foundations")
    solution = solutions.model(lab.lab_id).to_json()
    runs = []
    for spec in (lab, dataclasses.replace(lab, reference_model=None)):
        measurer = Measurer(spec)
        measurer.load(solution)
        runs.append(measurer.training)
    with_reference, without = runs
    assert len(with_reference.reference_times) == lab.recipe.reference_epochs
    assert without.reference_times == []
    assert with_reference.losses == without.losses
    assert with_reference.quality == without.quality


# ----------------------------------------------------------------------- the sandbox


def test_the_sandbox_shows_a_graded_kernel_no_lab_source():
    """Do the folders the sandbox puts back for a graded kernel (interpreter, site-packages,
    the kit's package folders) hold none of the labs' source notebooks, and no notebook at
    all in the kit's folders? (The checkout itself is hidden: ``pipeline/secrets.py``.)"""
    sources = sorted((ROOT / "labs").glob("*/*.ipynb"))
    assert len(sources) == len(lab_ids())
    assert all("### BEGIN SOLUTION" in path.read_text() for path in sources)
    exposed = exposed_paths([])
    assert exposed
    for source in sources:
        for path in (source.absolute(), source.resolve()):
            assert not any(path.is_relative_to(folder) for folder in exposed), (path, exposed)
    kit = kit_package_dirs()
    assert {folder.name for folder in kit} >= {"autograder", "datasets", "widgets"}
    notebooks = [nb for folder in kit for nb in folder.rglob("*.ipynb")]
    assert notebooks == []
    text = [p for folder in kit for p in folder.rglob("*") if p.is_file()
            and p.suffix in {".py", ".json", ".md", ".txt"}
            and re.search(r"^\s*### BEGIN (SOLUTION|HIDDEN TESTS)\s*$", p.read_text(errors="replace"),
                          flags=re.MULTILINE)]  # fmt: skip
    assert text == []
