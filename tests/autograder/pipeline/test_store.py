"""The results store: atomic per-student records keyed by the notebook's sha256."""

from __future__ import annotations

import json
import re

import pytest
from kerascourse.autograder.pipeline.store import ResultsStore

LAB = "lab01_functional_api"


def _record(student="alice", sha="a" * 64, **extra):
    return {"student_id": student, "sha256": sha, "status": "graded", "merged": True, **extra}


def test_round_trip_and_done(tmp_path):
    """Is a merged record of the same notebook 'done', and a different notebook not?"""
    store = ResultsStore(tmp_path, LAB)
    path = store.put(_record(score=7.0))
    assert path == tmp_path / ".kerascourse" / "results" / LAB / "alice.json"
    assert store.get("alice")["score"] == 7.0
    assert store.get("alice")["lab_id"] == LAB
    assert store.is_done("alice", "a" * 64)
    assert not store.is_done("alice", "b" * 64)
    assert not store.is_done("bob", "a" * 64)


def test_unmerged_or_unfinished_records_are_graded_again(tmp_path):
    """Is a record written before the gradebook merge (or mid-way) not counted as done?"""
    store = ResultsStore(tmp_path, LAB)
    store.put(_record(merged=False))
    assert not store.is_done("alice", "a" * 64)
    store.put(_record(status="running"))
    assert not store.is_done("alice", "a" * 64)


def test_failed_write_leaves_the_old_record_and_no_temp_file(tmp_path):
    """Does a write that fails half-way keep the previous record intact?"""
    store = ResultsStore(tmp_path, LAB)
    store.put(_record(score=1.0))
    with pytest.raises(TypeError):
        store.put(_record(score=object()))  # not JSON-serialisable
    assert store.get("alice")["score"] == 1.0
    assert list(store.folder.glob("*.tmp")) == []


def test_corrupt_record_means_not_done(tmp_path):
    """Is an unreadable record treated as missing (graded again), not as a crash?"""
    store = ResultsStore(tmp_path, LAB)
    store.folder.mkdir(parents=True)
    (store.folder / "alice.json").write_text("{not json")
    assert store.get("alice") is None
    assert not store.is_done("alice", "a" * 64)
    assert list(store.records()) == []


def test_records_sorted_and_partial_files_cleaned(tmp_path):
    """Are records listed by student id, and temp files of a killed run removed?"""
    store = ResultsStore(tmp_path, LAB)
    store.put(_record("bob"))
    store.put(_record("alice"))
    (store.folder / ".carol.x1.tmp").write_text("{")
    assert [r["student_id"] for r in store.records()] == ["alice", "bob"]
    assert store.clean_partial() == 1
    assert json.loads((store.folder / "bob.json").read_text())["student_id"] == "bob"


def test_bad_ids_and_records_are_refused(tmp_path):
    """Do a path-like student id and a record without sha256 raise with the fix?"""
    store = ResultsStore(tmp_path, LAB)
    with pytest.raises(ValueError, match=re.escape("it must be a plain folder name")):
        store.path("../x")
    with pytest.raises(ValueError, match=re.escape("needs 'sha256'")):
        store.put({"student_id": "alice"})
