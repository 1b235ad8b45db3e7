"""The nbgrader course every lab's end-to-end test grades in: one per session (per xdist
worker), not one per test.

Why shared: each lab is its own nbgrader assignment, so the labs' classes can live in one
course folder and one gradebook; what a fresh course costs (nbgrader creating and
migrating the gradebook on the first release, about 6 s on 2 cores) is paid once. Each
test writes its submissions to its own folder and checks only its own lab's records,
feedback pages, CSV rows and report.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kerascourse.autograder.pipeline import course as course_mod

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def lab_course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An nbgrader course set up from the repository's labs/ (no lab released yet)."""
    course = tmp_path_factory.mktemp("labs-course") / "course"
    course_mod.setup_course(course, ROOT / "labs")
    return course
