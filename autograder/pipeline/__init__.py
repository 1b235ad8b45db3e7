"""The grading pipeline (``kerascourse grade``) as a short list of named steps, one module each.

A class run (:mod:`.run`): ``collect`` (:mod:`.collect`) -> per submission, in worker
processes (:mod:`.worker`): ``stage`` (:mod:`.stage`) -> sandboxed ``autograde`` and
``copy_out`` (:mod:`.autograde`) -> trusted ``score`` (:mod:`.score`) -> ``finalize``
(:mod:`.finalize`) -> in the parent: ``merge`` (:mod:`.commit`, :mod:`.merge`, results in
:mod:`.store`) -> ``feedback``, ``export`` and ``class report`` (:mod:`.outputs`,
:mod:`.feedback`, :mod:`.classreport`). The nbgrader course it works in:
:mod:`.course` (set-up, release) and :mod:`.courseinfo` (reading it, private courses);
what the sandbox must not see: :mod:`.secrets`. Options and report: :mod:`.options`.

The public API is importable from here (``from kerascourse.autograder.pipeline import
GradeOptions, grade_lab``); modules inside the package import each other's modules, never
this package, so that importing it forms no circle.
"""

from kerascourse.autograder.pipeline.autograde import MAX_EXECUTED_BYTES, safe_read
from kerascourse.autograder.pipeline.courseinfo import (
    TEST_STUB,
    CourseInfo,
    build_template_gradebook,
    is_test_cell,
    prepare_course,
    private_config,
    read_course,
)
from kerascourse.autograder.pipeline.finalize import (
    NO_MODEL_ADVICE,
    budget_figures,
    scores_from_trusted,
)
from kerascourse.autograder.pipeline.job import Job, Work
from kerascourse.autograder.pipeline.options import STATUSES, GradeOptions, GradingReport
from kerascourse.autograder.pipeline.run import grade_lab
from kerascourse.autograder.pipeline.score import cache_salt
from kerascourse.autograder.pipeline.worker import (
    STEP_NAMES,
    STEPS,
    WORKER_PRELOAD,
    Step,
    grade_one,
)

__all__ = [
    "MAX_EXECUTED_BYTES",
    "NO_MODEL_ADVICE",
    "STATUSES",
    "STEPS",
    "STEP_NAMES",
    "TEST_STUB",
    "WORKER_PRELOAD",
    "CourseInfo",
    "GradeOptions",
    "GradingReport",
    "Job",
    "Step",
    "Work",
    "budget_figures",
    "build_template_gradebook",
    "cache_salt",
    "grade_lab",
    "grade_one",
    "is_test_cell",
    "prepare_course",
    "private_config",
    "read_course",
    "safe_read",
    "scores_from_trusted",
]
