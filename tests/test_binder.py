"""Binder (repo2docker) builds an image in which every notebook's imports are installed.

Binder reads ``environment.yml`` and ``postBuild`` at the repository root (a ``binder/``
folder would make it ignore both). Building the image needs Docker and the network, so no
test here builds one; instead they catch, offline and in a second, what would otherwise
only show on mybinder.org: a pin that drifted from the lock, a ``postBuild`` that is not
executable or carries on after an error, and a notebook importing a package nobody
installs.

Which packages must be pinned (the decision): every distribution a notebook imports *by
name* is pinned directly in environment.yml, even when a pinned package already depends on
it (scipy through scikit-learn, IPython through ipykernel). A notebook that imports a
package relies on its API, so its version is pinned where Binder reads it rather than left
to whatever a dependency allows. pip users get the same packages from pyproject: each is
declared there or is an unconditional requirement of a declared one (checked below).
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement

from kerascourse.runner import QUIET_TF_ENV, find_notebooks

ROOT = Path(__file__).resolve().parents[1]

#: Modules a notebook may import without a pin (dotted name -> why), each only under
#: ``try: ... except ImportError`` (or ModuleNotFoundError) so the notebook runs without it.
#: Empty today: no notebook imports anything optional (the Colab set-up cell detects Colab
#: with ``"google.colab" in sys.modules``, not by importing it). An entry that no notebook
#: imports any more fails a test, so the list never outlives its reason.
ALLOWED_UNPINNED: dict[str, str] = {}

#: What an entry looks like; the checker's own tests use it.
EXAMPLE_ALLOWED = {
    "google.colab": "Colab's runtime package: only on Colab, never on PyPI",
}

#: Cell magics whose body is still Python (the first line is dropped); any other cell
#: magic (%%bash, %%writefile, ...) makes the cell not Python, and it is skipped.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})

IMPORT_GUARDS = frozenset({"ImportError", "ModuleNotFoundError"})


def _load_pins_helpers():
    """tests/test_pins.py's parsers of the lock and environment.yml (one parser, not two).

    Loaded by path: pytest runs with ``--import-mode=importlib``, so ``tests/`` is not on
    ``sys.path`` and the module cannot simply be imported.
    """
    spec = importlib.util.spec_from_file_location("_kc_test_pins", ROOT / "tests/test_pins.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pins = _load_pins_helpers()


# --- collecting a notebook's imports ---------------------------------------------------


@dataclass(frozen=True)
class NotebookImport:
    """One imported module: where, its dotted name, and whether a missing one is handled."""

    notebook: str
    cell: int
    module: str
    guarded: bool

    @property
    def top(self) -> str:
        return self.module.split(".")[0]


def python_source(cell_source: str) -> str | None:
    """The cell as plain Python: IPython magics and shell lines made parseable.

    A line magic or ``!shell`` line becomes ``pass`` at the same indentation (dropping it
    would leave ``if IN_COLAB:`` with an empty body); ``%load_ext NAME`` becomes
    ``import NAME``, since that is what it does. Returns None for a cell magic whose body
    is not Python.
    """
    lines = cell_source.replace("\\\n", " ").splitlines()
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        header = lines[first].strip()[2:].split()
        if not header or header[0] not in PYTHON_CELL_MAGICS:
            return None
        lines = lines[first + 1 :]
    out = []
    for line in lines:
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if stripped.startswith(("%", "!")):
            load = re.match(r"%load_ext\s+([\w.]+)", stripped)
            out.append(f"{indent}import {load.group(1)}" if load else f"{indent}pass")
        else:
            out.append(line)
    return "\n".join(out)


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(n, ast.Name) and n.id in IMPORT_GUARDS for n in names)


class _ImportCollector(ast.NodeVisitor):
    """Every import in a tree (functions, classes and ``try`` blocks included)."""

    def __init__(self) -> None:
        self.found: list[tuple[str, bool]] = []
        self._guarded = 0

    def visit_Try(self, node: ast.Try) -> None:
        guarded = any(_catches_import_error(h) for h in node.handlers)
        self._guarded += guarded
        for stmt in node.body:
            self.visit(stmt)
        self._guarded -= guarded
        for stmt in [*node.handlers, *node.orelse, *node.finalbody]:
            self.visit(stmt)

    visit_TryStar = visit_Try

    def visit_Import(self, node: ast.Import) -> None:
        self.found += [(alias.name, self._guarded > 0) for alias in node.names]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module:  # relative imports cannot name a package
            self.found += [
                (node.module if a.name == "*" else f"{node.module}.{a.name}", self._guarded > 0)
                for a in node.names
            ]

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        arg = node.args[0] if node.args else None
        literal = isinstance(arg, ast.Constant) and isinstance(arg.value, str)
        if name in {"import_module", "__import__"} and literal:
            self.found.append((arg.value, self._guarded > 0))
        self.generic_visit(node)


def notebook_imports(path: Path, root: Path = ROOT) -> list[NotebookImport]:
    """Every module a notebook's code cells import, with cell numbers (code cells only)."""
    nb = nbformat.read(path, as_version=4)
    rel = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    found = []
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for i, cell in enumerate(code_cells):
        source = python_source(cell.source)
        if source is None:
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError as err:
            msg = f"{rel}: code cell {i} is not Python after stripping magics: {err}"
            raise AssertionError(msg) from None
        collector = _ImportCollector()
        collector.visit(tree)
        found += [NotebookImport(rel, i, mod, guarded) for mod, guarded in collector.found]
    return found


def course_notebooks(root: Path = ROOT) -> list[Path]:
    """Chapters and labs (as the runner finds them), the index, and any student versions."""
    extra = [root / "index.ipynb", *sorted(root.glob("release/*/*.ipynb"))]
    return find_notebooks(root) + [p for p in extra if p.is_file()]


# --- judging them ----------------------------------------------------------------------


@functools.cache
def _module_distributions() -> dict[str, list[str]]:
    return {m: [pins._norm(d) for d in ds] for m, ds in metadata.packages_distributions().items()}


def _allow_listed(module: str, allowed: Iterable[str]) -> str | None:
    return next((a for a in allowed if module == a or module.startswith(a + ".")), None)


def third_party(imports: Iterable[NotebookImport]) -> list[NotebookImport]:
    """Imports of anything but the standard library and the kit itself."""
    return [
        imp
        for imp in imports
        if imp.top not in sys.stdlib_module_names and imp.top not in {"kerascourse", "__future__"}
    ]


def unpinned_imports(
    imports: Iterable[NotebookImport],
    env_pins: dict[str, str],
    allowed: dict[str, str] = ALLOWED_UNPINNED,
) -> list[str]:
    """One message per import that Binder's environment would not provide (empty: all good)."""
    problems = []
    for imp in third_party(imports):
        where = f"{imp.notebook} code cell {imp.cell}: import {imp.module}"
        entry = _allow_listed(imp.module, allowed)
        if entry is not None:
            if not imp.guarded:
                problems.append(
                    f"{where} is allow-listed as {entry!r} ({allowed[entry]}) but not under "
                    "try/except ImportError; guard it so the notebook runs without it"
                )
            continue
        dists = _module_distributions().get(imp.top, [])
        if not dists:
            problems.append(
                f"{where}: no installed distribution provides {imp.top!r}; add it to "
                "pyproject, `make lock`, and pin it in environment.yml"
            )
        elif not any(d in env_pins for d in dists):
            problems.append(
                f"{where}: {imp.top!r} comes from {dists}, none pinned in environment.yml; "
                f"add `{dists[0]}=={pins._lock(ROOT).get(dists[0], '<version in the lock>')}`"
            )
    return problems


@functools.cache
def _all_imports() -> tuple[NotebookImport, ...]:
    return tuple(imp for path in course_notebooks() for imp in notebook_imports(path))


def _env_pins() -> dict[str, str]:
    return pins._env_pip(ROOT)[1]


# --- (a) environment.yml ---------------------------------------------------------------


def test_binder_reads_environment_and_postbuild_at_the_root():
    """Are the Binder files at the root, with no binder/ folder that would hide them?"""
    assert (ROOT / "environment.yml").is_file()
    assert (ROOT / "postBuild").is_file()
    for folder in ("binder", ".binder"):
        assert not (ROOT / folder).exists(), (
            f"{folder}/ exists: repo2docker would then ignore environment.yml and postBuild "
            "at the root. Move its files to the root and delete it."
        )


def test_conda_packages_do_not_duplicate_pip_pins():
    """Does no package come from both conda and pip (two copies, whichever wins)?"""
    env, env_pins = pins._env_pip(ROOT)
    conda = {
        pins._norm(re.split(r"[=<>!\s]", d, maxsplit=1)[0])
        for d in env["dependencies"]
        if isinstance(d, str)
    }
    assert {"python", "pip"} <= conda, "environment.yml needs python and pip from conda"
    both = sorted(conda & set(env_pins))
    assert not both, f"{both} are installed by conda and pinned for pip; keep only the pip pin"


# --- (b) postBuild ---------------------------------------------------------------------


def _postbuild_commands() -> list[list[str]]:
    """postBuild's commands as argv lists (continuations joined, comments dropped)."""
    text = (ROOT / "postBuild").read_text().replace("\\\n", " ")
    commands = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            commands.append(shlex.split(line, comments=True))
    return commands


def test_postbuild_is_an_executable_strict_bash_script():
    """Is postBuild executable bash that stops at the first failing command?"""
    path = ROOT / "postBuild"
    assert path.read_text().startswith("#!/usr/bin/env bash\n")
    assert os.access(path, os.X_OK), "chmod +x postBuild (repo2docker runs it directly)"
    tracked = subprocess.run(
        ["git", "ls-files", "-s", "postBuild"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    if tracked:  # Binder builds from git, so the mode git records is the one that counts
        assert tracked.startswith("100755"), f"git records postBuild as {tracked.split()[0]}"
    assert _postbuild_commands()[0] == ["set", "-euo", "pipefail"], "set -euo pipefail first"
    syntax = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, check=False)
    assert syntax.returncode == 0, syntax.stderr


def test_postbuild_installs_the_kit_from_the_checkout_without_resolving():
    """Does postBuild pip-install this checkout with --no-deps, and nothing else with pip?"""
    installs = [c for c in _postbuild_commands() if "pip" in c and "install" in c]
    assert len(installs) == 1, f"expected one pip install in postBuild, found {installs}"
    argv = installs[0]
    assert argv[:4] == ["python", "-m", "pip", "install"], argv
    assert "--no-deps" in argv, "without --no-deps pip may re-resolve environment.yml's pins"
    targets = [a for a in argv[4:] if not a.startswith("-")]
    assert targets == ["."], f"postBuild should install the checkout ('.'), got {targets}"


def test_postbuild_kernel_is_as_quiet_as_the_runners():
    """Does Binder's python3 kernel get the same TensorFlow env as every kit kernel?"""
    (argv,) = [
        c for c in _postbuild_commands() if c[:4] == ["python", "-m", "ipykernel", "install"]
    ]
    assert argv[argv.index("--name") + 1] == "python3"
    env = {argv[i + 1]: argv[i + 2] for i, a in enumerate(argv) if a == "--env"}
    assert env == QUIET_TF_ENV


def test_postbuild_hides_only_real_nbgrader_panels_and_keeps_validate():
    """Does every plugin postBuild disables exist in nbgrader's labextension, validate kept?"""
    commands = _postbuild_commands()
    (loop,) = [c for c in commands if c[:3] == ["for", "plugin", "in"]]
    plugins = [p.rstrip(";") for p in loop[3 : loop.index("do")] if p.rstrip(";")]
    assert plugins, "no nbgrader plugins found in postBuild's loop"
    disable = ["jupyter", "labextension", "disable", "--level=sys_prefix"]
    assert any(c[:4] == disable and c[-1] == "@jupyter/nbgrader:${plugin}" for c in commands)
    assert "validate-assignment" not in plugins, "learners need the Validate button"
    static = Path(sys.prefix, "share/jupyter/labextensions/@jupyter/nbgrader/static")
    bundle = "".join(p.read_text(errors="replace") for p in static.glob("*.js"))
    unknown = [p for p in plugins if f'"@jupyter/nbgrader:{p}"' not in bundle]
    assert not unknown, f"nbgrader {metadata.version('nbgrader')} has no plugins {unknown}"


# --- (c) every notebook import is installed on Binder ----------------------------------


def test_the_import_scan_sees_the_notebooks():
    """Does the scan cover every chapter and lab and find their real imports?"""
    scanned = {imp.notebook for imp in _all_imports()}
    assert {str(p.relative_to(ROOT)) for p in find_notebooks(ROOT)} <= scanned
    tops = {imp.top for imp in third_party(_all_imports())}
    assert {"keras", "numpy", "sklearn", "jieba"} <= tops


def test_every_notebook_import_is_pinned_in_environment_yml():
    """Is every package a notebook imports pinned in environment.yml (Binder installs it)?"""
    problems = unpinned_imports(_all_imports(), _env_pins())
    assert not problems, "\n".join(problems)


def test_allow_list_entries_are_used_guarded_and_explained():
    """Is each allow-list entry still imported, always under except ImportError, with a reason?"""
    imports = _all_imports()
    for entry, reason in ALLOWED_UNPINNED.items():
        assert reason.strip(), f"{entry}: say why it may stay unpinned"
        uses = [imp for imp in imports if _allow_listed(imp.module, [entry])]
        assert uses, f"no notebook imports {entry} any more; remove it from ALLOWED_UNPINNED"
        unguarded = [f"{u.notebook} code cell {u.cell}" for u in uses if not u.guarded]
        assert not unguarded, f"{entry} imported outside try/except ImportError: {unguarded}"


def test_pip_users_get_every_imported_package_too():
    """Is each imported package declared in pyproject, or required by a declared one?"""
    declared = set(pins._pyproject_runtime(ROOT))
    brought = set(declared)
    for dist in declared:
        for req in metadata.requires(dist) or []:
            r = Requirement(req)
            if r.marker is None or r.marker.evaluate({"extra": ""}):
                brought.add(pins._norm(r.name))
    missed = sorted(
        {
            f"{imp.top} ({', '.join(dists)})"
            for imp in third_party(_all_imports())
            if not _allow_listed(imp.module, ALLOWED_UNPINNED)
            and not set(dists := _module_distributions().get(imp.top, [])) & brought
        }
    )
    assert not missed, f"pip install '.[course,tf-cpu]' would not install {missed}"


# --- the checker itself fails when it should -------------------------------------------


def _fake_notebook(tmp_path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    path = tmp_path / "fake.ipynb"
    nbformat.write(nb, path)
    return path


def test_an_unpinned_import_is_reported(tmp_path):
    """Is a notebook importing an unknown package (even inside a function) reported?"""
    nb = _fake_notebook(
        tmp_path,
        "import os\nimport numpy as np\nfrom kerascourse import settings",
        "def f():\n    import requests_oauthlib_fake_pkg.sub\n    return 1",
    )
    problems = unpinned_imports(notebook_imports(nb, tmp_path), _env_pins())
    assert len(problems) == 1
    assert "fake.ipynb code cell 1: import requests_oauthlib_fake_pkg.sub" in problems[0]
    assert "no installed distribution provides" in problems[0]


def test_an_installed_but_unpinned_package_is_reported(tmp_path):
    """Is a package that is installed (pytest) but not in environment.yml reported with its pin?"""
    nb = _fake_notebook(tmp_path, "import pytest")
    (problem,) = unpinned_imports(notebook_imports(nb, tmp_path), _env_pins())
    assert f"add `pytest=={pins._lock(ROOT)['pytest']}`" in problem


def test_magics_and_shell_lines_are_stripped_and_load_ext_counts(tmp_path):
    """Do magics parse (even inside an if), does %load_ext import, and %%bash cells skip?"""
    nb = _fake_notebook(
        tmp_path,
        "%matplotlib inline\nimport sys\nif 'google.colab' in sys.modules:\n    !pip -q install x",
        "%load_ext not_a_real_extension_pkg",
        "%%bash\nimport nothing_here_either",
        "%%time\nimport numpy",
    )
    modules = [(imp.cell, imp.module) for imp in notebook_imports(nb, tmp_path)]
    assert modules == [(0, "sys"), (1, "not_a_real_extension_pkg"), (3, "numpy")]


def test_only_import_error_guards_count(tmp_path):
    """Is an allow-listed import accepted under except ImportError but not except Exception?"""
    nb = _fake_notebook(
        tmp_path,
        "try:\n    import google.colab\nexcept (ModuleNotFoundError, KeyError):\n    pass",
        "try:\n    from google import colab\nexcept Exception:\n    colab = None",
    )
    imports = notebook_imports(nb, tmp_path)
    assert [(i.module, i.guarded) for i in imports] == [
        ("google.colab", True),
        ("google.colab", False),
    ]
    (problem,) = unpinned_imports(imports, _env_pins(), allowed=EXAMPLE_ALLOWED)
    assert "code cell 1" in problem
    assert "not under try/except ImportError" in problem
    # a guard alone exempts nothing: without an allow-list entry both are unpinned
    assert len(unpinned_imports(imports, _env_pins(), allowed={})) == 2


@pytest.mark.parametrize("module", ["google.colab", "google.colab.drive"])
def test_allow_list_matches_dotted_prefixes_only(module):
    """Does 'google.colab' cover its submodules but not all of 'google' (protobuf's)?"""
    assert _allow_listed(module, EXAMPLE_ALLOWED) == "google.colab"
    assert _allow_listed("google.protobuf", EXAMPLE_ALLOWED) is None
    assert _allow_listed("google.colabx", EXAMPLE_ALLOWED) is None
