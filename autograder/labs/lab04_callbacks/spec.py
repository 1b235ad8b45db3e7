"""Lab 04, callbacks: its spec (grade cells, points, public defaults) and its two hooks.

Why hooks: the learner exports a callback's *source*, which the trusted engine's model
steps cannot score, so the spec registers the lab's own scorers with the core
(``score_export``: :func:`~.scorer.score_callback`; ``local_scorer``:
:func:`~.scorer.local_scorer` for the notebook's self-check). Nothing in the core names
this lab.

Importing this module imports no Keras.
"""

from __future__ import annotations

from kerascourse.autograder.core.spec import GradeCell, LabSpec, Recipe
from kerascourse.autograder.labs.lab04_callbacks.rules import LAB_ID
from kerascourse.autograder.labs.lab04_callbacks.runs import grader_data
from kerascourse.autograder.labs.lab04_callbacks.scorer import local_scorer, score_callback

__all__ = ["SPEC"]

SPEC = LabSpec(
    lab_id=LAB_ID,
    notebook="lab04_callbacks.ipynb",
    grade_cells=(
        GradeCell(
            "q1_improvement",
            2,
            visible=("relative_margin",),
            hidden=("other_parameters",),
            title="an epoch improves only by the relative margin",
        ),
        GradeCell(
            "q2_stopping",
            2,
            visible=("stops",),
            hidden=("real_run",),
            title="training stops after `patience` epochs without improvement",
        ),
        GradeCell(
            "q3_restore",
            2,
            visible=("restores",),
            hidden=("fresh_state",),
            title="the best epoch's weights restored; a second fit starts afresh",
        ),
        GradeCell(
            "q4_decision_log",
            2,
            visible=("decision_log",),
            hidden=("decision_log_runs",),
            title="every decision logged",
        ),
        GradeCell("q5_written", 2, manual=True, title="relative against absolute margins"),
    ),
    inputs={},
    outputs={},
    required_layers=(),
    forbidden_layers=(),
    max_params=0,
    max_flops=0,
    max_time_ratio=0.0,
    quality_threshold=0.0,
    recipe=Recipe(optimizer="SGD", learning_rate=0.05, epochs=12, batch_size=64),
    public_data=grader_data,
    reference_model=lambda: None,
    export_file="submission_callback.py",
    max_json_bytes=100_000,
    private_npz=False,
    submission="callback",
    score_export=score_callback,
    local_scorer=local_scorer,
)
