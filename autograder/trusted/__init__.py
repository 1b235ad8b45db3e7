"""The trusted scorer: the score that counts, from a process that never ran student code.

``python -m kerascourse.autograder.trusted --lab ID --model FILE --out RESULT.json`` scores
one submission; :func:`score_submission` and :func:`score_json` do the same in-process.

The package, by what a reader looks for:

- :mod:`.result`: :class:`TrustedResult`, :class:`CellScore` and the ``FLAG_*`` values;
- :mod:`.measure`: :class:`~.measure.Measurer`, the grader's own measurements of a rebuilt
  architecture (data, training runs, timings), each computed once;
- :mod:`.steps`: the named steps a lab's grade cells list (:data:`STEPS`) and
  :func:`run_step`, which tells the submission's failure from a grader bug;
- :mod:`.engine`: :class:`Scorer` and the scoring of a submission (:func:`score_cell`,
  :func:`scored_result` and :func:`zero_result`, for labs that score their own export
  too);
- :mod:`.sandboxing`: the sandbox for a lab's exported code (:func:`default_sandbox`);
- :mod:`.cli`: the command line (:func:`main`).

The engine knows no lab: a lab whose export is not an architecture registers its own
scorer as ``LabSpec.score_export``. Importing this package imports no Keras.
"""

from kerascourse.autograder.trusted.cli import main
from kerascourse.autograder.trusted.engine import (
    Scorer,
    score_cell,
    score_json,
    score_submission,
    scored_result,
    zero_result,
)
from kerascourse.autograder.trusted.result import (
    FLAG_GRADER_ERROR,
    FLAG_NO_MODEL,
    FLAG_REFUSED,
    CellScore,
    TrustedResult,
)
from kerascourse.autograder.trusted.sandboxing import default_sandbox, read_sandbox_spec
from kerascourse.autograder.trusted.steps import STEPS, run_step

__all__ = [
    "FLAG_GRADER_ERROR",
    "FLAG_NO_MODEL",
    "FLAG_REFUSED",
    "STEPS",
    "CellScore",
    "Scorer",
    "TrustedResult",
    "default_sandbox",
    "main",
    "read_sandbox_spec",
    "run_step",
    "score_cell",
    "score_json",
    "score_submission",
    "scored_result",
    "zero_result",
]
