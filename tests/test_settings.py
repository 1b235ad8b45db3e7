"""FAST mode and the seed come from one module, read the same way everywhere."""

from __future__ import annotations

import re

import numpy as np
import pytest

from kerascourse import settings


@pytest.mark.parametrize(
    ("value", "expected"), [("1", True), ("true", True), ("0", False), ("", False)]
)
def test_fast_reads_environment(monkeypatch, value, expected):
    """Does KERASCOURSE_FAST turn FAST mode on only for truthy values?"""
    monkeypatch.setenv("KERASCOURSE_FAST", value)
    assert settings.is_fast() is expected


def test_epochs_and_size_follow_fast(monkeypatch):
    """Are epochs and sizes the full values normally and the small ones in FAST mode?"""
    monkeypatch.setenv("KERASCOURSE_FAST", "0")
    assert settings.epochs(20) == 20
    assert settings.size(None, 100) is None
    monkeypatch.setenv("KERASCOURSE_FAST", "1")
    assert settings.epochs(20, fast=2) == 2
    assert settings.size(None, 100) == 100


def test_subset_keeps_first_rows_in_fast_mode(monkeypatch):
    """Does subset() cut every array to the same first rows only in FAST mode?"""
    x, y = np.arange(10), np.arange(10) * 2
    monkeypatch.setenv("KERASCOURSE_FAST", "1")
    xs, ys = settings.subset(x, y, fast=3)
    np.testing.assert_array_equal(xs, [0, 1, 2])
    np.testing.assert_array_equal(ys, [0, 2, 4])
    monkeypatch.setenv("KERASCOURSE_FAST", "0")
    assert settings.subset(x, fast=3) is x


def test_subset_rejects_arrays_of_different_lengths():
    """Does subset() name the lengths when x and y disagree?"""
    with pytest.raises(ValueError, match=re.escape("received lengths [3, 4]")):
        settings.subset([1, 2, 3], [1, 2, 3, 4], fast=2)


def test_bad_seed_names_the_variable(monkeypatch):
    """Does a non-integer KERASCOURSE_SEED say which variable and what to use?"""
    monkeypatch.setenv("KERASCOURSE_SEED", "forty-two")
    with pytest.raises(ValueError, match=re.escape("KERASCOURSE_SEED must be an integer")):
        settings.seed()


def test_bad_epochs_are_rejected():
    """Are zero epochs refused with the received values?"""
    with pytest.raises(ValueError, match=re.escape("Received: full=0, fast=1")):
        settings.epochs(0)
