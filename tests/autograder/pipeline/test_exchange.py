"""A class on JupyterHub: nbgrader's exchange with several users, the path the README
documents ("A class on JupyterHub"), run with the real nbgrader commands.

Each learner of a JupyterHub has a user of their own, and nbgrader names the student by
that user (``nbgrader.utils.get_username``). Creating system users in a test is not
something a test suite should do, so the one thing faked here is that lookup: each
``nbgrader`` process below runs as "alice" or "bob" by replacing ``get_username`` before
nbgrader's exchange modules import it. Everything else is nbgrader's own release, fetch,
submit and collect on a shared exchange folder, then the kit's own grading command reads
the collected ``submitted/`` folder.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from kerascourse.autograder.pipeline import course as course_mod

ROOT = Path(__file__).resolve().parents[3]
LAB = "lab04_callbacks"
COURSE_ID = "dl2026"
AS_USER = (
    "import sys\n"
    "import nbgrader.exchange.default, nbgrader.utils\n"
    "from nbgrader.apps.nbgraderapp import main\n"
    "user, real = sys.argv.pop(1), nbgrader.utils.get_username\n"
    "for module in list(sys.modules.values()):  # every module that imported the lookup\n"
    "    if getattr(module, 'get_username', None) is real:\n"
    "        module.get_username = lambda: user\n"
    "sys.argv[0] = 'nbgrader'\n"
    "sys.exit(main())\n"
)


def _nbgrader(user: str, cwd: Path, exchange: Path, *args: str) -> subprocess.CompletedProcess:
    flags = [f"--Exchange.root={exchange}", f"--CourseDirectory.course_id={COURSE_ID}"]
    done = subprocess.run(
        [sys.executable, "-c", AS_USER, user, *args, *flags],
        cwd=cwd,
        env=course_mod.nbgrader_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.mark.slow
def test_two_learners_fetch_and_submit_and_the_instructor_collects(tmp_path):
    """Do release, fetch and submit by two users, then collect, leave each learner's
    notebook in submitted/<user>/, where `kerascourse grade` reads a course's class?"""
    course = tmp_path / "course"
    exchange = tmp_path / "exchange"  # /srv/nbgrader/exchange on a real hub
    exchange.mkdir()
    exchange.chmod(0o777)
    course_mod.setup_course(course, ROOT / "labs")
    course_mod.generate_assignment(course, LAB)
    _nbgrader("instructor", course, exchange, "release_assignment", LAB)
    assert (exchange / COURSE_ID / "outbound" / LAB / f"{LAB}.ipynb").is_file()

    for user in ("alice", "bob"):
        home = tmp_path / user
        home.mkdir()
        _nbgrader(user, home, exchange, "fetch_assignment", LAB)
        fetched = home / LAB / f"{LAB}.ipynb"
        assert "raise NotImplementedError()" in fetched.read_text()  # the student version
        fetched.write_text(fetched.read_text().replace("YOUR ANSWER HERE", f"{user}'s answer"))
        _nbgrader(user, home, exchange, "submit", LAB)

    inbound = sorted(p.name.split("+")[0] for p in (exchange / COURSE_ID / "inbound").iterdir())
    assert inbound == ["alice", "bob"]
    _nbgrader("instructor", course, exchange, "collect", LAB)
    for user in ("alice", "bob"):
        submitted = course / "submitted" / user / LAB
        assert f"{user}'s answer" in (submitted / f"{LAB}.ipynb").read_text()
        assert (submitted / "timestamp.txt").is_file()

    from kerascourse.autograder.pipeline.collect import collect_submissions

    found = collect_submissions(course / "submitted", LAB, tmp_path / "collect")
    assert sorted(s.student_id for s in found.submissions) == ["alice", "bob"]
