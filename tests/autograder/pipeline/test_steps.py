"""The pipeline's steps one at a time, without grading a class: the step list, the trusted
cache's salt, the sandbox handed to a lab that exports code, tamper flags, the final
notebook, the leak check and the class report.

Everything here is fast (no kernel, no TensorFlow); the class run end to end is
test_pipeline.py.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from kerascourse.autograder.pipeline import STEP_NAMES, Job, grade_one
from kerascourse.autograder.pipeline import score as score_mod
from kerascourse.autograder.pipeline.feedback import leaked_lines
from support.notebooks import find

# ----------------------------------------------------------------------- the steps


def test_the_steps_run_in_the_documented_order():
    """Is a submission graded by stage, autograde, copy_out, score, finalize, in order?"""
    assert STEP_NAMES == ("stage", "autograde", "copy_out", "score", "finalize")


def _job(tmp_path: Path, **changes) -> Job:
    """A job for the tiny release below, graded nowhere (no sandbox, no scorer)."""
    release = tmp_path / "release.ipynb"
    nbformat.write(_tiny_release(), release)
    (tmp_path / "job").mkdir(exist_ok=True)
    job = Job(
        lab_id="lab", notebook_id="lab", student_id="s", sha256="0" * 64,
        notebook_path=str(release), origin="s.ipynb", timestamp=None, flags=[], notes=[],
        job_dir=str(tmp_path / "job"), release_path=str(release), template_db="",
        nbgrader_config="", secrets=[], policy={"memory_bytes": None},
        info={"kind": "none", "own_uid": False, "gpu": False, "reason": "test"},
        trusted_cmd=["scorer"], score_timeout=5.0, cache_dir=None, cache_salt="",
        max_json_bytes=1000, export_file="submission_model.json", exports_code=False,
        autograded_ids=["q1", "q2"], points={"q1": 1.0, "q2": 2.0}, threads=None,
    )  # fmt: skip
    return dataclasses.replace(job, **changes)


def test_an_unreadable_notebook_skips_the_steps_that_run_it(tmp_path):
    """Is a file that is not a notebook failed with the reason, never run, still scored 0?"""
    bad = tmp_path / "bad.ipynb"
    bad.write_bytes(b"\xff not json")
    out = grade_one(_job(tmp_path, notebook_path=str(bad)))
    assert set(out["steps"]) == {"stage", "score", "finalize"}
    assert out["status"] == "failed"
    assert out["reason"] == "not a readable notebook: UnicodeDecodeError"
    assert out["flags"] == ["sandbox unavailable", "no model exported"]
    assert out["score"] == 0.0
    assert out["max_score"] == 3.0
    assert Path(out["final_notebook"]).is_file()
    assert not (tmp_path / "job" / "course").exists()


@pytest.mark.parametrize(
    ("export_file", "exports_code"),
    [
        ("submission_model.json", False),
        ("submission_callback.py", True),
        ("code.txt", True),  # what decides is the lab's declaration...
        ("model.py", False),  # ...never the file's suffix
    ],
)
def test_the_scorer_gets_the_sandbox_when_the_lab_exports_code(
    tmp_path, monkeypatch, export_file, exports_code
):
    """Does the lab's declared ``exports_code`` (not the file's suffix) decide whether the
    trusted scorer is handed the sandbox to run the export in?"""
    seen = []

    def fake_run_trusted(cmd, timeout, memory, threads):
        seen.append(cmd)
        Path(cmd[cmd.index("--out") + 1]).write_text(json.dumps({"cells": {}}))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(score_mod, "run_trusted", fake_run_trusted)
    job = _job(tmp_path, export_file=export_file, exports_code=exports_code)
    model = tmp_path / export_file
    model.write_text("{}")
    assert score_mod.score_now(job, model, {"flags": []}) == {"cells": {}}
    assert ("--sandbox-spec" in seen[0]) == exports_code
    assert (tmp_path / "job" / "sandbox.json").exists() == exports_code


# ----------------------------------------------------------------------- the trusted cache


def _grader_copy(tmp_path: Path) -> Path:
    """A copy of the grader's .py files (the package's layout, subfolders included)."""

    def not_code(folder, names):
        return [n for n in names if n == "__pycache__" or not (
            n.endswith(".py") or (Path(folder) / n).is_dir())]  # fmt: skip

    return Path(shutil.copytree(score_mod.GRADER_ROOT, tmp_path / "autograder", ignore=not_code))


def test_the_cache_salt_covers_the_whole_grader_package():
    """Is the salt's default root the kerascourse.autograder package itself?"""
    import kerascourse.autograder

    assert score_mod.GRADER_ROOT == Path(kerascourse.autograder.__file__).resolve().parent


def test_the_cache_salt_changes_with_any_module_in_any_subfolder(tmp_path):
    """Does editing, adding or moving a module in a subfolder of the grader (a lab, a
    check) change the salt, so that no old cached score is served? And only code?"""
    root = _grader_copy(tmp_path)

    def salt(config=None, lab="lab01"):
        return score_mod.cache_salt(config, lab, root=root)

    base = salt()
    assert salt() == base
    deep = sorted(p for p in root.rglob("*.py") if len(p.relative_to(root).parts) >= 3)
    assert deep, "the grader has modules two folders down (labs/lab04_callbacks/)"
    edited = deep[0].read_bytes()
    deep[0].write_bytes(edited + b"\n# edited\n")
    assert salt() != base
    deep[0].write_bytes(edited)
    assert salt() == base
    added = next(p for p in root.iterdir() if p.is_dir()) / "new_check.py"
    added.write_text("THRESHOLD = 1\n")
    with_added = salt()
    assert with_added != base
    added.rename(root / "new_check.py")  # same bytes, another folder
    assert salt() not in (base, with_added)
    (root / "new_check.py").unlink()
    assert salt() == base
    (root / "notes.md").write_text("not code")
    (root / "__pycache__").mkdir(exist_ok=True)
    (root / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    assert salt() == base
    config = tmp_path / "private.toml"
    config.write_text("epochs = 2\n")
    assert salt(config) != base
    assert salt(lab="lab02") != base


# ----------------------------------------------------------------------- notebooks and pages


def _tiny_release():
    """A two-test release notebook with nbgrader metadata and real checksums."""
    from nbgrader.utils import compute_checksum

    def cell(source, gid, *, grade, locked, solution=False, points=None):
        c = nbformat.v4.new_code_cell(source)
        meta = {"grade": grade, "grade_id": gid, "locked": locked, "solution": solution}
        meta["schema_version"] = 3
        if points is not None:
            meta["points"] = points
        c.metadata["nbgrader"] = meta
        c.metadata["nbgrader"]["checksum"] = compute_checksum(c)
        return c

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        cell("import keras", "setup", grade=False, locked=True),
        cell("# YOUR CODE HERE", "build_model", grade=False, locked=False, solution=True),
        cell("check(model)", "q1", grade=True, locked=True, points=1),
        cell("check2(model)", "q2", grade=True, locked=True, points=2),
    ]
    return nb


def test_tamper_flags_name_each_change():
    """Are an edited locked cell, a deleted and a duplicated test cell each flagged?"""
    from kerascourse.autograder.pipeline.merge import tamper_flags

    release = _tiny_release()
    sub = copy.deepcopy(release)
    sub.cells[0].source = "import keras  # mine"
    sub.cells.append(copy.deepcopy(sub.cells[2]))
    del sub.cells[3]  # q2
    assert tamper_flags(sub, release) == [
        "locked cell edited: setup",
        "cell duplicated: q1 (2 copies)",
        "grade cell deleted: q2",
    ]
    assert tamper_flags(copy.deepcopy(release), release) == []


def test_finalize_restores_cells_and_writes_trusted_output():
    """Are locked cells restored, a deleted test put back, and its output the grader's?"""
    from kerascourse.autograder.pipeline.merge import CellScore, finalize_notebook

    release = _tiny_release()
    sub = copy.deepcopy(release)
    sub.cells[2].source = "print('all passed')"
    sub.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="all passed")]
    del sub.cells[3]
    scores = {"q1": CellScore(0.0, 1.0, ["[FAILED] q1: no"]), "q2": CellScore(2.0, 2.0)}
    final = finalize_notebook(sub, release, scores)
    assert [find(final, g).source for g in ("q1", "q2")] == ["check(model)", "check2(model)"]
    text = find(final, "q1").outputs[0]["text"]
    assert text.startswith("Score from the grader (computed outside your kernel): 0 / 1")
    assert "[FAILED] q1: no" in text
    assert "all passed" not in json.dumps(final)


def test_leak_check_sees_through_syntax_highlighting():
    """Is a hidden line found even when the HTML splits it into highlighted spans?"""
    page = (
        '<span class="n">selfcheck</span><span class="o">.</span><span class="n">lab01'
        '</span>(<span class="s2">&quot;q2&quot;</span>, <span class="n">model</span>)'
    )
    assert leaked_lines(page, ['selfcheck.lab01("q2", model)']) == ['selfcheck.lab01("q2", model)']
    assert leaked_lines("<p>nothing here</p>", ['selfcheck.lab01("q2", model)']) == []


def test_class_report_renders_without_a_course():
    """Does the class report show the plot, pass rates, budgets and flags from records?"""
    from kerascourse.autograder.pipeline.classreport import pass_rates, render

    records = [
        {"student_id": "a", "status": "graded", "score": 3.0, "max_score": 3.0, "flags": [],
         "scores": {"q1": {"score": 1, "points": 1}, "q2": {"score": 2, "points": 2}},
         "budget": {"params": 30762, "flops": 1405140, "time_ratio": 1.02, "accuracy": 0.93}},
        {"student_id": "b", "status": "crashed", "score": 0.0, "max_score": 3.0,
         "flags": ["locked cell edited: q1"], "reason": "timed out",
         "scores": {"q1": {"score": 0, "points": 1}, "q2": {"score": 0, "points": 2}}},
    ]  # fmt: skip
    assert pass_rates(records)["q2"] == {"full": 0.5, "mean": 1.0, "points": 2.0}
    page = render("lab", records, sandbox="NO SANDBOX (test)")
    assert "data:image/png;base64," in page
    assert "30,762" in page
    assert "locked cell edited: q1" in page
    assert "class='warn'" in page
