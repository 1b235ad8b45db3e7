"""Adversarial submissions: each cheat gets exactly what its model earns, none stops others.

All of them are graded in ONE run (every submission costs a TensorFlow kernel), then each
outcome is asserted per student (the ``case_*`` questions below). Most cheats are built on a *frozen*
model (nothing trains, so the grader's accuracy stays at chance level): an honest score is
6/9 (quality 0), so any cheat that worked would show as more than 6.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
import pytest
from kerascourse.autograder.pipeline import GradeOptions, grade_lab, read_course
from kerascourse.autograder.pipeline.merge import count_submissions
from support import notebooks as nbs

pytestmark = pytest.mark.slow


H = nbs
LAB = H.LAB
FROZEN = H.build_model_source(frozen=True)
SOLUTION = H.build_model_source()
HONEST_FROZEN = {**H.POINTS, "q3_quality": 0.0}  # what a frozen model earns: 6/9
FULL = dict(H.POINTS)
ZERO = dict.fromkeys(H.CELLS, 0.0)
#: Seconds for one submission's notebook run (the infinite loop is stopped by it).
TIMEOUT = 150


def _code(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


def _edited_locked(release):
    nb = H.student(release, build=FROZEN)
    H.find(nb, "q3_quality").source = 'print("[ok] quality: accuracy 0.99")'
    H.find(nb, "export_model").source = _code(
        """
        strong = keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(), layers.Dense(10)])
        open("submission_model.json", "w").write(strong.to_json())
        """
    )
    return nb


def _deleted_test(release):
    nb = H.student(release, build=FROZEN)
    nb.cells.remove(H.find(nb, "q3_quality"))
    return nb


def _duplicated_cell(release):
    nb = H.student(release, build=FROZEN)
    copy = nbformat.from_dict(H.find(nb, "q3_quality"))
    copy.metadata["nbgrader"] = dict(copy.metadata["nbgrader"], points=30)
    nb.cells.insert(H.index_of(nb, "q3_quality") + 1, copy)
    return nb


def _hide_failures(release):
    return H.add_code(
        H.student(release, build=FROZEN),
        _code(
            """
            import ast, sys

            sys.excepthook = lambda *args: None
            ip = get_ipython()
            ip.showtraceback = lambda *args, **kwargs: None
            ip.showsyntaxerror = lambda *args, **kwargs: None

            class SwallowErrors(ast.NodeTransformer):
                def visit_Module(self, node):
                    handler = ast.ExceptHandler(type=None, name=None, body=[ast.Pass()])
                    wrapped = ast.Try(body=node.body or [ast.Pass()], handlers=[handler],
                                      orelse=[], finalbody=[])
                    return ast.fix_missing_locations(ast.Module(body=[wrapped], type_ignores=[]))

            ip.ast_transformers.append(SwallowErrors())
            print("tracebacks hidden; every later cell swallows its errors")
            """
        ),
        after="setup",
    )


def _monkeypatch(release):
    return H.add_code(
        H.student(release, build=FROZEN),
        _code(
            """
            import time
            import numpy.testing
            numpy.testing.assert_allclose = lambda *args, **kwargs: None
            numpy.testing.assert_array_equal = lambda *args, **kwargs: None
            keras.Model.evaluate = lambda self, *args, **kwargs: [0.01, 0.99]
            time.perf_counter = lambda: 0.0
            print("patched")
            """
        ),
        after="build",
    )


def _snooper(release, paths):
    code = f"""
        import glob, os, sqlite3
        def probe(label, fn):
            try:
                fn()
                print(label, "OPEN")
            except Exception as exc:
                print(label, "blocked", type(exc).__name__)
        probe("MAIN GRADEBOOK READ", lambda: open({str(paths["gradebook"])!r}, "rb").read(16))
        probe("MAIN GRADEBOOK WRITE", lambda: open({str(paths["gradebook"])!r}, "ab").write(b"x"))
        probe("LAB SOURCE", lambda: open({str(paths["source"])!r}).read(16))
        probe("REPO GIT", lambda: os.listdir({str(paths["git"])!r}))
        probe("PRIVATE CONFIG", lambda: open({str(paths["config"])!r}).read(16))
        probe("CLASSMATES", lambda: open({str(paths["classmate"])!r}).read(16))
        private = os.path.abspath("../../../gradebook.db")
        blob = open(private, "rb").read() if os.path.exists(private) else b""
        print("PRIVATE GRADEBOOK HIDDEN TESTS", b'part="hidden"' in blob)
        print("PRIVATE GRADEBOOK HAS OTHERS", b"full_marks_honest" in blob)
        if blob:
            db = sqlite3.connect(private)
            db.execute("UPDATE grade SET auto_score = 100")
            db.commit()
            print("PRIVATE GRADEBOOK FORGED")
        """
    return H.add_code(H.student(release, build=FROZEN), _code(code), after="build")


def _os_exit(release):
    nb = H.student(release, build=SOLUTION)
    nb.cells.insert(0, nbformat.v4.new_code_cell("import os\nos._exit(0)"))
    return nb


def _memory_bomb(release):
    return H.add_code(
        H.student(release, build=SOLUTION),
        "blob = bytearray(64 * 1024**3)  # 64 GiB",
        after="build",
    )


def _infinite_loop(release):
    nb = H.student(release, build=SOLUTION)
    loop = _code(
        """
        import time
        while True:  # and it shrugs off nbgrader's interrupt
            try:
                time.sleep(1)
            except KeyboardInterrupt:
                pass
        """
    )
    nb.cells.insert(0, nbformat.v4.new_code_cell(loop))
    return nb


def _hardcoded(release):
    nb = H.student(release, build=FROZEN)
    H.add_code(
        nb,
        _code(
            """
            test_accuracy = 0.99
            print("Test accuracy: 0.990")
            selfcheck.lab01 = lambda *args, **kwargs: print("[ok] everything passed")
            """
        ),
        after="build",
    )
    return nb


def _grading_branch(release):
    build = (
        "import os\n"
        "GRADING = bool(os.environ.get('NBGRADER_EXECUTION'))\n"
        "print('grading run' if GRADING else 'my own run')\n"
        + FROZEN.replace("def build_model():", "def _frozen():")
        + SOLUTION.replace("def build_model():", "def _good():")
        + "def build_model():\n    return _frozen() if GRADING else _good()\n"
    )
    return H.student(release, build=build)


def _force_cpu(release):
    nb = H.student(release, build=SOLUTION)
    nb.cells.insert(
        0, nbformat.v4.new_code_cell('import os\nos.environ["CUDA_VISIBLE_DEVICES"] = "-1"')
    )
    H.add_code(
        nb,
        'import tensorflow as tf\ntf.config.set_visible_devices([], "GPU")\nprint("CPU only")',
        after="setup",
    )
    return nb


def _float_subclass(release):
    return H.add_code(
        H.student(release, build=FROZEN),
        _code(
            """
            class AlwaysTrue(float):
                __ge__ = __gt__ = __le__ = __lt__ = __eq__ = lambda self, other: True
            import kerascourse.autograder.checks.quality as quality
            quality.accuracy = lambda *args, **kwargs: AlwaysTrue(0.0)
            test_accuracy = AlwaysTrue(0.0)
            print("accuracy >= 0.99:", test_accuracy >= 0.99)
            """
        ),
        after="build",
    )


def _honest_noisy(release):
    nb = H.student(release, build=H.lab_solution_source())
    H.add_code(
        nb,
        _code(
            """
            import sys, time, warnings
            warnings.warn("this is just a warning")
            print("a note on stderr", file=sys.stderr)
            for i in range(5):
                print(f"\\rprogress {i + 1}/5 [" + "#" * (i + 1) + " " * (4 - i) + "]", end="")
            print()
            _ = model.predict(x_test[:64], verbose=1)
            """
        ),
        after="build",
    )
    return nb


def grade_batch(base: Path) -> dict:
    """Every adversarial submission (plus one honest one), graded in a single run."""
    course, _, release = H.new_course(base)
    config = H.private_config(base)
    folder = base / "submissions"
    classmate = folder / "full_marks_honest" / f"{LAB}.ipynb"
    paths = {
        "gradebook": course / "gradebook.db",
        "source": H.SOURCE,
        "git": H.ROOT / ".git",
        "config": config,
        "classmate": classmate,
    }
    students = {
        "edited_locked": _edited_locked(release),
        "deleted_test": _deleted_test(release),
        "duplicated_cell": _duplicated_cell(release),
        "hide_failures": _hide_failures(release),
        "monkeypatch": _monkeypatch(release),
        "shadow_numpy": H.student(release, build=SOLUTION),
        "snooper": _snooper(release, paths),
        "os_exit": _os_exit(release),
        "memory_bomb": _memory_bomb(release),
        "infinite_loop": _infinite_loop(release),
        "hardcoded": _hardcoded(release),
        "grading_branch": _grading_branch(release),
        "force_cpu": _force_cpu(release),
        "float_subclass": _float_subclass(release),
        "full_marks_honest": _honest_noisy(release),
    }
    for sid, nb in students.items():
        H.write(nb, folder / sid / f"{LAB}.ipynb")
    (folder / "shadow_numpy" / "numpy.py").write_text(
        'print("SHADOWED NUMPY LOADED")\nraise SystemExit("numpy is gone")\n'
    )
    options = GradeOptions(jobs=3, config_path=str(config), timeout=TIMEOUT, progress=False)
    report = grade_lab(LAB, folder, course, options)
    return {"report": report, "course": course, "students": students}


def _outputs(batch, sid: str) -> str:
    path = batch["course"] / "autograded" / sid / LAB / f"{LAB}.ipynb"
    nb = nbformat.read(path, as_version=4)
    return "".join(
        out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
        + " ".join(out.get("traceback", []))
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )  # fmt: skip


def _assert_scores(batch, sid: str, cells: dict[str, float], status: str = "graded"):
    rec = batch["report"].record(sid)
    assert rec["status"] == status, (sid, rec.get("reason"), rec.get("flags"))
    assert H.cell_scores(rec) == cells, (sid, rec["scores"])
    assert rec["score"] == sum(cells.values())
    return rec


def case_nobody_stops_the_others(batch):
    """Is every student graded and merged once, whatever the others did?"""
    report = batch["report"]
    assert sorted(report.graded_now) == sorted(batch["students"])
    assert all(r["merged"] for r in report.records)
    db_url = read_course(batch["course"]).db_url
    assert count_submissions(db_url, LAB) == dict.fromkeys(batch["students"], 1)


def case_edited_locked_cells_are_restored_and_flagged(batch):
    """Do an edited test cell and an edited export cell change nothing but a flag?"""
    rec = _assert_scores(batch, "edited_locked", HONEST_FROZEN)
    assert "locked cell edited: q3_quality" in rec["flags"]
    assert "locked cell edited: export_model" in rec["flags"]
    assert "Exported the architecture of 'digits_cnn'" in _outputs(batch, "edited_locked")


def case_deleted_test_cell_is_flagged_and_scored_anyway(batch):
    """Does deleting a test cell earn nothing, with a flag and the cell put back?"""
    rec = _assert_scores(batch, "deleted_test", HONEST_FROZEN)
    assert "grade cell deleted: q3_quality" in rec["flags"]
    assert "quality: accuracy" in _outputs(batch, "deleted_test")


def case_duplicated_grade_cell_counts_once(batch):
    """Does a duplicated test cell (worth 30 points) count once, at its real value?"""
    rec = _assert_scores(batch, "duplicated_cell", HONEST_FROZEN)
    assert "cell duplicated: q3_quality (2 copies)" in rec["flags"]
    assert rec["max_score"] == 9.0


def case_in_kernel_cheats_earn_nothing(batch):
    """Do hidden tracebacks and an error-swallowing AST transformer, patched numpy.testing,
    Model.evaluate and perf_counter, hard-coded metrics and an always-true float leave the
    score at what the frozen model earns?"""
    for sid in ("hide_failures", "monkeypatch", "hardcoded", "float_subclass"):
        _assert_scores(batch, sid, HONEST_FROZEN)
        assert batch["report"].record(sid)["flags"] == [], sid


def case_branching_on_nbgrader_execution_grades_what_was_exported(batch):
    """Is the model built under grading (NBGRADER_EXECUTION set) the one that is scored?"""
    _assert_scores(batch, "grading_branch", HONEST_FROZEN)
    assert "grading run" in _outputs(batch, "grading_branch")


def case_shadowing_numpy_is_left_behind(batch):
    """Is a numpy.py handed in beside the notebook never put next to the grading kernel?"""
    _assert_scores(batch, "shadow_numpy", FULL)
    assert any("numpy.py" in note for note in batch["report"].notes)
    out = _outputs(batch, "shadow_numpy")
    assert "SHADOWED" not in out
    assert "Keras 3" in out


def case_gradebook_source_config_and_classmates_are_out_of_reach(batch):
    """Can the kernel neither read nor write the gradebook, sources, config or classmates?"""
    _assert_scores(batch, "snooper", HONEST_FROZEN)
    out = _outputs(batch, "snooper")
    for label in ("MAIN GRADEBOOK READ", "MAIN GRADEBOOK WRITE", "LAB SOURCE", "REPO GIT"):
        assert f"{label} blocked" in out, out
    assert "PRIVATE CONFIG blocked" in out
    assert "CLASSMATES blocked" in out
    assert "PRIVATE GRADEBOOK HIDDEN TESTS False" in out
    assert "PRIVATE GRADEBOOK HAS OTHERS False" in out
    assert "PRIVATE GRADEBOOK FORGED" in out  # forged where it does not count


def case_os_exit_crashes_only_itself(batch):
    """Does a kernel that kills itself end as 'crashed' with no marks?"""
    rec = _assert_scores(batch, "os_exit", ZERO, status="crashed")
    assert "kernel died" in rec["reason"]


def case_memory_bomb_hits_the_limit(batch):
    """Does a 64 GiB allocation fail inside the sandbox, leaving the grade to the model?"""
    _assert_scores(batch, "memory_bomb", FULL)
    assert "MemoryError" in _outputs(batch, "memory_bomb")


def case_infinite_loop_is_stopped_by_the_timeout(batch):
    """Is a loop that ignores interrupts stopped by the per-submission timeout, no marks?"""
    rec = _assert_scores(batch, "infinite_loop", ZERO, status="crashed")
    assert f"timed out after {TIMEOUT} s" in rec["reason"]


def case_forcing_cpu_changes_nothing_the_grader_measures(batch):
    """Is the device judged by the grader's own training, not the kernel's settings?"""
    rec = _assert_scores(batch, "force_cpu", FULL)
    assert "device" in " ".join(rec["scores"]["q2_device"]["messages"])


def case_honest_noisy_solution_gets_full_marks(batch):
    """Does an honest solution that prints warnings, stderr and progress bars get 9/9?"""
    rec = _assert_scores(batch, "full_marks_honest", FULL)
    assert rec["flags"] == []
    assert "progress 5/5" in _outputs(batch, "full_marks_honest")


CASES = [
    case_nobody_stops_the_others,
    case_edited_locked_cells_are_restored_and_flagged,
    case_deleted_test_cell_is_flagged_and_scored_anyway,
    case_duplicated_grade_cell_counts_once,
    case_in_kernel_cheats_earn_nothing,
    case_branching_on_nbgrader_execution_grades_what_was_exported,
    case_shadowing_numpy_is_left_behind,
    case_gradebook_source_config_and_classmates_are_out_of_reach,
    case_os_exit_crashes_only_itself,
    case_memory_bomb_hits_the_limit,
    case_infinite_loop_is_stopped_by_the_timeout,
    case_forcing_cpu_changes_nothing_the_grader_measures,
    case_honest_noisy_solution_gets_full_marks,
]


def test_every_cheat_gets_only_what_its_model_earns(tmp_path):
    """Graded in one run, does every adversarial submission get exactly its outcome?

    One test on purpose: the batch costs one TensorFlow kernel per student, so it must run
    once, and a module-scoped fixture would run once per xdist worker. Each case below is a
    question of its own; all are checked and every failing one is reported.
    """
    batch = grade_batch(tmp_path)
    failures = []
    for case in CASES:
        try:
            case(batch)
        except AssertionError as exc:
            failures.append(f"{case.__name__}: {case.__doc__.splitlines()[0]}\n  {exc}")
    assert not failures, "\n".join(failures)
