"""index.ipynb, the course's front page, links every chapter and lab, in order, and no dead ends.

The index is written by hand (markdown cells only), so these tests are what keeps it in
step with the notebooks: a new chapter or lab that is not linked, a renamed notebook, a
Colab or Binder badge pointing to a path that does not exist all fail here.

Labs are linked twice on purpose: their student version under ``release/`` (what learners
open, and what the Colab and Binder badges of a lab open) and their nbgrader source in
``labs/`` (with solutions and hidden tests, for instructors). ``release/`` is generated
from ``labs/`` by nbgrader, so a link there only has to follow nbgrader's layout,
``release/<lab_id>/<lab_id>.ipynb``, for a lab that exists.

Not executed by tests/test_notebooks.py: ``find_notebooks`` looks in ``chapters/`` and
``labs/`` only, and the index has no code cells to run (a test below keeps it so).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
import tomllib

from kerascourse.runner import find_notebooks

ROOT = Path(__file__).resolve().parents[1]
INDEX = ROOT / "index.ipynb"
LINK = re.compile(r"\]\(([^)\s]+)\)")  # markdown link or image target


def _github_slug() -> str:
    """owner/name from pyproject's Homepage (the one place the repository is named)."""
    home = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Homepage"]
    return urlsplit(home).path.strip("/")


SLUG = _github_slug()
COLAB = f"https://colab.research.google.com/github/{SLUG}/blob/main/"
BINDER = f"https://mybinder.org/v2/gh/{SLUG}/main?urlpath=lab/tree/"
LAB_IDS = [p.parent.name for p in find_notebooks(ROOT) if p.parent.parent.name == "labs"]


def links(markdown: str) -> list[str]:
    """Every link and image target in a markdown text, in order."""
    return LINK.findall(markdown)


def release_lab_id(path: str) -> str | None:
    """The lab id if `path` is nbgrader's student version of a real lab, else None."""
    m = re.fullmatch(r"release/([^/]+)/([^/]+)\.ipynb", path)
    return m.group(1) if m and m.group(1) == m.group(2) and m.group(1) in LAB_IDS else None


def dead_links(targets: list[str], root: Path = ROOT) -> list[str]:
    """Targets that point nowhere: relative paths, Colab and Binder links into the repo."""
    dead = []
    for target in targets:
        if target.startswith(COLAB):
            path = target.removeprefix(COLAB)
        elif target.startswith(BINDER):
            path = target.removeprefix(BINDER)
        elif urlsplit(target).scheme:  # another site (badge images): not ours to check
            continue
        else:
            path = unquote(target.split("#", 1)[0])
        if not (release_lab_id(path) or (path and (root / path).exists())):
            dead.append(target)
    return dead


def course_order(notebooks: list[Path], root: Path = ROOT) -> list[str]:
    """Chapters in order, each followed by its labs (labNN_* after chapter NN)."""

    def key(p: Path) -> tuple[int, int, str]:
        is_lab = p.parent.parent.name == "labs"
        number = p.parent.name[3:5] if is_lab else p.name[:2]
        return (int(number), int(is_lab), p.name)

    return [p.relative_to(root).as_posix() for p in sorted(notebooks, key=key)]


@pytest.fixture(scope="module")
def index():
    return nbformat.read(INDEX, as_version=4)


@pytest.fixture(scope="module")
def targets(index) -> list[str]:
    return [t for cell in index.cells if cell.cell_type == "markdown" for t in links(cell.source)]


def test_index_is_markdown_only_without_outputs(index):
    """Is the index links and prose only (so not executing it loses nothing), outputs clear?"""
    nbformat.validate(index)
    assert index.metadata["kernelspec"]["name"] == "python3"
    code = [i for i, c in enumerate(index.cells) if c.cell_type == "code"]
    assert not code, (
        f"index.ipynb has code cells {code}: clear their outputs and add the index to "
        "find_notebooks so that the notebook tests run it"
    )
    assert all("outputs" not in c and "attachments" not in c for c in index.cells)
    assert index.cells[0].source.startswith("# ")
    assert INDEX not in find_notebooks(ROOT)


def test_every_chapter_and_lab_is_linked_once_in_course_order(targets):
    """Are all chapters and lab sources linked, each exactly once, chapter then its lab?"""
    sources = [t for t in targets if re.match(r"(chapters|labs)/.*\.ipynb$", t)]
    expected = course_order(find_notebooks(ROOT))
    assert len(expected) >= 15, expected  # 8 chapters, 7 labs: the index is not trivially empty
    assert sources == expected


def test_every_lab_student_version_is_linked_once(targets):
    """Does each lab link its release/ student version once (the name learners click)?"""
    relative = [t for t in targets if t.startswith("release/")]
    assert [release_lab_id(t) for t in relative] == LAB_IDS


def test_colab_and_binder_badges_open_each_notebook_once(targets):
    """Does each chapter and lab student version have one Colab and one Binder badge?"""
    expected = [
        f"release/{Path(p).parent.name}/{Path(p).name}" if p.startswith("labs/") else p
        for p in course_order(find_notebooks(ROOT))
    ]
    for prefix in (COLAB, BINDER):
        badges = [t.removeprefix(prefix) for t in targets if t.startswith(prefix)]
        assert badges == expected, prefix


def test_no_link_in_the_index_is_dead(targets):
    """Does every relative link, Colab and Binder badge point to a file that exists?"""
    assert any(t.startswith("autograder/README.md") for t in targets), "instructor pointer"
    assert not dead_links(targets)


def test_index_says_how_to_run_locally(index):
    """Does the index give the two commands of the README?"""
    text = "\n".join(c.source for c in index.cells)
    assert "make lab" in text
    assert "make test" in text


def test_readme_binder_badge_opens_the_index():
    """Does the README carry a Binder badge that opens index.ipynb, and link the index?"""
    readme = links((ROOT / "README.md").read_text())
    assert "index.ipynb" in readme
    assert f"{BINDER}index.ipynb" in readme
    assert not dead_links(readme)


def test_dead_links_are_reported(tmp_path):
    """Are a missing file, a wrong release layout and a Colab badge to nowhere reported?"""
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "00_x.ipynb").write_text("{}")
    lab = LAB_IDS[0]
    ok = [
        "chapters/00_x.ipynb",
        f"release/{lab}/{lab}.ipynb",
        f"{COLAB}chapters/00_x.ipynb",
        "https://mybinder.org/badge_logo.svg",
    ]
    bad = [
        "chapters/01_missing.ipynb",
        f"release/{lab}/other.ipynb",
        "release/lab99_nothing/lab99_nothing.ipynb",
        f"{COLAB}chapters/01_missing.ipynb",
        f"{BINDER}labs/{lab}/missing.ipynb",
    ]
    assert dead_links(ok + bad, root=tmp_path) == bad


def test_course_order_puts_each_lab_after_its_chapter(tmp_path):
    """Does the expected order interleave labNN after chapter NN, whatever the input order?"""
    paths = [
        tmp_path / "labs/lab01_b/lab01_b.ipynb",
        tmp_path / "chapters/02_c.ipynb",
        tmp_path / "chapters/01_b.ipynb",
        tmp_path / "labs/lab00_a/lab00_a.ipynb",
        tmp_path / "chapters/00_a.ipynb",
    ]
    assert course_order(paths, root=tmp_path) == [
        "chapters/00_a.ipynb",
        "labs/lab00_a/lab00_a.ipynb",
        "chapters/01_b.ipynb",
        "labs/lab01_b/lab01_b.ipynb",
        "chapters/02_c.ipynb",
    ]
