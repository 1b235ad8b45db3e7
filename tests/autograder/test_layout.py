"""The package's shape, checked: no import circle, no private name borrowed, a core that
knows no lab, modules a person can hold in their head, and one registered spec per lab.

Why an AST walk and not an import-linter: the rules are four, the walk is short, and it
sees imports inside functions too (the lazy imports that hid the old circles).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from kerascourse.autograder.core.registry import get_lab, lab_ids

ROOT = Path(__file__).resolve().parents[2]
#: Folder -> the package it is installed as (pyproject's package-dir).
PACKAGES = {
    ROOT / "src" / "kerascourse": "kerascourse",
    ROOT / "autograder": "kerascourse.autograder",
    ROOT / "datasets": "kerascourse.datasets",
    ROOT / "widgets": "kerascourse.widgets",
}
#: Parts of the autograder that must never import a lab (labs register; the core discovers).
CORE = ("core", "checks", "trusted", "pipeline", "sandbox", "selfcheck", "cli")
LABS_PACKAGE = "kerascourse.autograder.labs"
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the distribution."""
    found: dict[str, Path] = {}
    for folder, package in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            if "data" in path.relative_to(folder).parts[:1]:
                continue
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, imported names, line) for every import in the file, lazy ones too."""
    is_package = path.name == "__init__.py"
    base = name.split(".") if is_package else name.split(".")[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - node.level + 1]
                target = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                target = node.module or ""
            out.append((target, [a.name for a in node.names], node.lineno))
    return out


def _graph() -> dict[str, set[str]]:
    """Module -> the modules of this distribution it imports (``from pkg import mod`` too)."""
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        edges = graph.setdefault(name, set())
        for target, names, _ in _imports(name, path):
            # ``from pkg import mod`` depends on pkg.mod; ``from mod import name`` on mod.
            submodules = [f"{target}.{item}" for item in names if f"{target}.{item}" in MODULES]
            edges.update(submodules)
            if target in MODULES and (not names or len(submodules) < len(names)):
                edges.add(target)
        edges.discard(name)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_sees_a_circle_even_through_a_third_module():
    """Would the walk below catch a circle (so that its empty answer means something)?"""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_anywhere_in_the_distribution():
    """Does no module import, directly or through others, a module that imports it back?"""
    graph = _graph()
    assert len(graph) > 60, "the walk found the modules"
    assert "kerascourse.autograder.pipeline.feedback" in graph
    assert _cycles(graph) == []


def test_no_module_imports_another_modules_private_names():
    """Is every name imported across modules public (no leading underscore)? A module
    of a package may be private to it (``_loaders``); the names taken from it may not."""
    borrowed = []
    for name, path in MODULES.items():
        for target, names, line in _imports(name, path):
            if not target.startswith("kerascourse"):
                continue
            for item in names:
                if f"{target}.{item}" in MODULES:
                    continue  # a package's own module (``from pkg import _helpers``)
                if item.startswith("_") and not item.startswith("__"):
                    borrowed.append(f"{path.relative_to(ROOT)}:{line} imports {item} from {target}")
    assert borrowed == []


def test_the_core_imports_no_lab():
    """Do the core, checks, trusted scorer, pipeline, sandbox, self-check and CLI import no
    lab module (labs are found by the registry, never named by the core)?"""
    offenders = []
    for name, path in MODULES.items():
        part = name.removeprefix("kerascourse.autograder.").split(".")[0]
        if not name.startswith("kerascourse.autograder.") or part not in CORE:
            continue
        for target, names, line in _imports(name, path):
            targets = [target] + [f"{target}.{n}" for n in names]
            if any(t == LABS_PACKAGE or t.startswith(LABS_PACKAGE + ".") for t in targets):
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert offenders == []


def test_every_module_fits_in_a_head():
    """Is every module of the autograder at most ~400 lines?"""
    long = {
        str(path.relative_to(ROOT)): n
        for name, path in MODULES.items()
        if name.startswith("kerascourse.autograder")
        and (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_every_lab_folder_has_a_registered_spec_and_vice_versa():
    """Does each nbgrader lab in labs/ have a spec in kerascourse.autograder.labs whose
    notebook exists, and each registered spec a lab folder?"""
    folders = sorted(p.name for p in (ROOT / "labs").iterdir() if (p / f"{p.name}.ipynb").is_file())
    assert folders, "labs/ holds the nbgrader sources"
    assert lab_ids() == folders
    for lab_id in folders:
        spec = get_lab(lab_id)
        assert spec.lab_id == lab_id
        assert (ROOT / "labs" / lab_id / spec.notebook).is_file()


@pytest.mark.parametrize("lab_id", lab_ids())
def test_every_lab_has_its_one_test_module(lab_id):
    """Is a lab's test module where "How to add a lab" says it goes, named for the lab?"""
    short = lab_id.split("_")[0]
    assert (ROOT / "tests" / "autograder" / "labs" / f"test_{short}.py").is_file()


def test_every_package_folder_ships_in_the_wheel():
    """Is every package of the distribution listed in pyproject's ``packages`` (a folder
    missing there installs from a checkout but not from the wheel)?"""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    packages = {name for name, path in MODULES.items() if path.name == "__init__.py"}
    assert packages == listed


def test_every_test_path_the_makefile_names_exists():
    """Do the test files `make test-oldest` runs still exist where the Makefile says (a
    moved test file would make that target fail only on the day someone runs it)?"""
    import re

    text = (ROOT / "Makefile").read_text()
    block = text.split("OLDEST_TESTS :=", 1)[1].split("\n\n", 1)[0]
    paths = re.findall(r"tests/\S+\.py", block)
    assert len(paths) >= 5
    assert [p for p in paths if not (ROOT / p).is_file()] == []
