"""Collecting submissions: nbgrader's layout, folders of downloads, LMS zips."""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import nbformat
import pytest
from kerascourse.autograder.pipeline.collect import (
    ACCEPTED_LAYOUTS,
    collect_submissions,
    student_id_from_name,
)

LAB = "lab01_functional_api"


def _nb(path: Path, text: str = "print(1)") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(text)])
    nbformat.write(nb, path)
    return path


def _ids(collection) -> list[str]:
    return [s.student_id for s in collection.submissions]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("alice_lab01_functional_api", "alice"),
        ("lab01_functional_api-bob", "bob"),
        ("doejane_12345_67890_lab01_functional_api", "doejane_12345"),
        ("doejane_late_12345_67890_lab01_functional_api-1", "doejane_12345"),
        ("Jane Doe_12345_assignsubmission_file_lab01_functional_api", "jane_doe_12345"),
        ("Jane Doe_12345_assignsubmission_file_", "jane_doe_12345"),
        ("Bob Smith", "bob_smith"),
        ("lab01_functional_api", None),
        ("Copy of lab01_functional_api (1)", None),
    ],
)
def test_student_id_from_name(name, expected):
    """Does each documented naming rule (Canvas, Moodle, generic) give the right id?"""
    assert student_id_from_name(name, LAB) == expected


def test_nbgrader_layout_takes_only_notebooks(tmp_path):
    """Is a numpy.py handed in beside the notebook left behind, with a note?"""
    sub = tmp_path / "course" / "submitted"
    _nb(sub / "alice" / LAB / f"{LAB}.ipynb")
    (sub / "alice" / LAB / "numpy.py").write_text("raise SystemExit")
    (sub / "alice" / LAB / "timestamp.txt").write_text("2025-01-01 10:00:00 UTC")
    _nb(sub / "bob" / LAB / f"{LAB}.ipynb")
    _nb(sub / "bob" / "lab99_other" / "x.ipynb")  # another lab: not ours
    found = collect_submissions(tmp_path / "course", LAB, tmp_path / "work")
    assert found.layout == "nbgrader"
    assert _ids(found) == ["alice", "bob"]
    alice = found.by_student()["alice"]
    assert alice.timestamp == "2025-01-01 10:00:00 UTC"
    assert alice.path.name == f"{LAB}.ipynb"
    assert any("numpy.py" in n and "not a notebook" in n for n in found.notes)


def test_folder_of_downloads(tmp_path):
    """Do loose notebooks and per-student folders both name their student?"""
    _nb(tmp_path / "in" / "alice_lab01_functional_api.ipynb")
    _nb(tmp_path / "in" / "doejane_12345_67890_lab01_functional_api.ipynb")
    _nb(tmp_path / "in" / "Jane Roe_777_assignsubmission_file_" / f"{LAB}.ipynb")
    (tmp_path / "in" / "notes.txt").write_text("x")
    found = collect_submissions(tmp_path / "in", LAB, tmp_path / "work")
    assert _ids(found) == ["alice", "doejane_12345", "jane_roe_777"]
    assert any("notes.txt" in n for n in found.notes)


def test_two_notebooks_for_one_student_are_flagged(tmp_path):
    """Is the newest of two notebooks graded and the student flagged?"""
    old = _nb(tmp_path / "in" / "alice" / "draft.ipynb", "old")
    new = _nb(tmp_path / "in" / "alice" / "final.ipynb", "new")
    _nb(tmp_path / "in" / "bob_lab01.ipynb")
    os.utime(old, (1_000_000, 1_000_000))
    found = collect_submissions(tmp_path / "in", LAB, tmp_path / "work")
    alice = found.by_student()["alice"]
    assert alice.path == new
    assert alice.flags == ("two_notebooks",)
    assert "draft.ipynb" in alice.notes[0]


def test_zip_rejects_traversal_and_symlinks(tmp_path):
    """Are ../ paths, absolute paths and symlink members of a zip rejected, the rest kept?"""
    archive = tmp_path / "class.zip"
    good = _nb(tmp_path / "src.ipynb")
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(good, "class/alice_lab01_functional_api.ipynb")
        zf.write(good, "class/bob_lab01_functional_api.ipynb")
        zf.writestr(zipfile.ZipInfo("../evil_lab01_functional_api.ipynb"), good.read_bytes())
        zf.writestr(zipfile.ZipInfo("/abs_lab01_functional_api.ipynb"), good.read_bytes())
        link = zipfile.ZipInfo("class/carol_lab01_functional_api.ipynb")
        link.external_attr = (0o120777 << 16) | 0
        zf.writestr(link, "/etc/passwd")
        zf.writestr("class/numpy.py", "raise SystemExit")
    found = collect_submissions(archive, LAB, tmp_path / "work")
    assert _ids(found) == ["alice", "bob"]
    assert found.layout == "zip"
    text = " | ".join(found.notes)
    assert "evil" in text
    assert "/abs_lab01" in text
    assert "unsafe path rejected" in text
    assert "symlink rejected" in text
    assert not (tmp_path / "evil_lab01_functional_api.ipynb").exists()
    assert all((tmp_path / "work") in s.path.parents for s in found.submissions)


def test_zip_of_nbgrader_layout(tmp_path):
    """Is nbgrader's layout found inside a zip too?"""
    archive = tmp_path / "submitted.zip"
    good = _nb(tmp_path / "src.ipynb")
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(good, f"submitted/alice/{LAB}/{LAB}.ipynb")
        zf.write(good, f"submitted/bob/{LAB}/{LAB}.ipynb")
    found = collect_submissions(archive, LAB, tmp_path / "work")
    assert _ids(found) == ["alice", "bob"]
    assert found.layout == "zip (nbgrader layout)"


def test_symlinked_notebook_is_ignored(tmp_path):
    """Is a symlink posing as a notebook skipped (never read as the grader)?"""
    _nb(tmp_path / "in" / "alice_lab01.ipynb")
    (tmp_path / "in" / "mallory_lab01.ipynb").symlink_to("/etc/passwd")
    found = collect_submissions(tmp_path / "in", LAB, tmp_path / "work")
    assert _ids(found) == ["alice"]
    assert any("symlink" in n for n in found.notes)


def test_same_bytes_same_hash(tmp_path):
    """Do identical notebooks get identical sha256 (the store's key)?"""
    first = _nb(tmp_path / "in" / "alice_lab01.ipynb")
    (tmp_path / "in" / "bob_lab01.ipynb").write_bytes(first.read_bytes())
    a, b = collect_submissions(tmp_path / "in", LAB, tmp_path / "work").submissions
    assert a.sha256 == b.sha256
    assert re.fullmatch(r"[0-9a-f]{64}", a.sha256)


def test_empty_folder_says_what_layouts_are_accepted(tmp_path):
    """Does an empty submissions folder explain the accepted layouts?"""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match=re.escape(ACCEPTED_LAYOUTS)):
        collect_submissions(tmp_path / "in", LAB, tmp_path / "work")


def test_missing_and_non_zip_inputs(tmp_path):
    """Do a missing path and a non-zip file name the problem and the fix?"""
    with pytest.raises(FileNotFoundError, match="does not exist"):
        collect_submissions(tmp_path / "nope", LAB, tmp_path / "work")
    bad = tmp_path / "grades.csv"
    bad.write_text("a,b")
    with pytest.raises(ValueError, match=re.escape("Pass a folder or a .zip")):
        collect_submissions(bad, LAB, tmp_path / "work")
