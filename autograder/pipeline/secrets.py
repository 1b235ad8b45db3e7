"""What the sandbox must not see during a class run: the course, its gradebook and
sources, the lab sources and their repository checkout, the private config, the staging
folder of the other students and the submissions as handed in.

Why a module of its own: the list is the sandbox's threat model written down in one
place; the class run computes it once per job and the sandbox hides each path (an empty
folder or ``/dev/null`` over it, see :mod:`kerascourse.autograder.sandbox.argv`).
"""

from __future__ import annotations

from pathlib import Path

from kerascourse.autograder.core.checkout import LABS_DIR, checkout_of
from kerascourse.autograder.pipeline.courseinfo import CourseInfo


def secret_paths(
    course: Path,
    info: CourseInfo,
    submissions: Path,
    config_path: str | None,
    work_root: Path,
) -> list[Path]:
    """What the sandbox must not see: course, sources, checkout, config, other students.

    Only existing paths, resolved, each once, never ``/``.
    """
    found = [course, info.root, info.source_dir, LABS_DIR, work_root]
    found.append(submissions.expanduser().resolve())
    for labs in (info.source_dir, LABS_DIR):
        checkout = checkout_of(labs)
        if checkout is not None:
            found.append(checkout)  # the repository: labs/ and .git history
    if config_path:
        found.append(Path(config_path).expanduser().resolve())
    if info.db_url.startswith("sqlite:///"):
        found.append(Path(info.db_url[len("sqlite:///") :]))
    unique: list[Path] = []
    for path in found:
        path = Path(path).resolve()
        if path.exists() and path not in unique and path != Path("/"):
            unique.append(path)
    return unique
