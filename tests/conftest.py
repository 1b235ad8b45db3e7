"""Shared fixtures and paths for the course kit's tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

# Kernels and subprocesses started by tests inherit a quiet TensorFlow.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


@pytest.fixture(scope="session", autouse=True)
def _private_embedding_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the widgets' t-SNE cache out of the user's ~/.cache during tests.

    Set in ``os.environ`` (not monkeypatch) so that notebook kernels started by tests
    inherit it; a test that checks the cache location sets its own value.
    """
    os.environ.setdefault("KERASCOURSE_CACHE", str(tmp_path_factory.mktemp("kerascourse-cache")))


@pytest.fixture(scope="session")
def root() -> Path:
    """The course repository root."""
    return ROOT


@pytest.fixture(scope="session")
def venv_python() -> str:
    """The interpreter running the tests (the course .venv under make test)."""
    return sys.executable
