"""Lab 04, callbacks: the learner writes ``RelativeEarlyStopping``; graded by running it on
grader-controlled training runs across a sandboxed process boundary.

The lab in modules, by what a reader looks for:

- :mod:`.spec`: ``SPEC``, the grade cells and public defaults, with the lab's two hooks;
- :mod:`.rules`: the specification as the grader's reference (:func:`expected_run`) and
  the grader's runs (:func:`scenarios`);
- :mod:`.runs`: the small model the grader trains and :class:`CallbackRuns`, which runs
  each scenario once; :mod:`.checks`: the named checks (:data:`STEPS`);
- :mod:`.scorer`: :func:`score_callback` (the trusted score, ``score_export``) and
  :func:`local_scorer` (the notebook's self-check, ``local_scorer``);
- the process boundary: :mod:`.bridge` (the grader's callback, an overview),
  :mod:`.local` (the class in this process, :class:`ModelProxy`), :mod:`.wire` (the
  message format), :mod:`.sandboxed` (the grader's side of the worker) and :mod:`.worker`
  (``python -m kerascourse.autograder.labs.lab04_callbacks.worker``).
"""

from kerascourse.autograder.labs.lab04_callbacks.bridge import HOOKS, make_bridge
from kerascourse.autograder.labs.lab04_callbacks.checks import STEPS
from kerascourse.autograder.labs.lab04_callbacks.local import (
    PRELUDE,
    SOURCE_NAME,
    LocalClient,
    ModelProxy,
    apply_weights,
    jsonable,
)
from kerascourse.autograder.labs.lab04_callbacks.rules import (
    ACTIONS,
    CLASS_NAME,
    LAB_ID,
    VALUE_RTOL,
    Expected,
    Scenario,
    expected_run,
    scenarios,
)
from kerascourse.autograder.labs.lab04_callbacks.runs import (
    CallbackRuns,
    FitRecord,
    RunRecord,
    run_scenario,
)
from kerascourse.autograder.labs.lab04_callbacks.sandboxed import WORKER_MODULE, SandboxedClient
from kerascourse.autograder.labs.lab04_callbacks.scorer import (
    CallbackScorer,
    local_scorer,
    score_callback,
    source_problem,
)
from kerascourse.autograder.labs.lab04_callbacks.spec import SPEC
from kerascourse.autograder.labs.lab04_callbacks.wire import (
    MAX_ARRAY_BYTES,
    MAX_HEADER_BYTES,
    BridgeError,
    Wire,
)

__all__ = [
    "ACTIONS",
    "CLASS_NAME",
    "HOOKS",
    "LAB_ID",
    "MAX_ARRAY_BYTES",
    "MAX_HEADER_BYTES",
    "PRELUDE",
    "SOURCE_NAME",
    "SPEC",
    "STEPS",
    "VALUE_RTOL",
    "WORKER_MODULE",
    "BridgeError",
    "CallbackRuns",
    "CallbackScorer",
    "Expected",
    "FitRecord",
    "LocalClient",
    "ModelProxy",
    "RunRecord",
    "SandboxedClient",
    "Scenario",
    "Wire",
    "apply_weights",
    "expected_run",
    "jsonable",
    "local_scorer",
    "make_bridge",
    "run_scenario",
    "scenarios",
    "score_callback",
    "source_problem",
]
