"""What a lab is, as data: its grade cells, budgets and training recipe (no lab lives here).

Why plain data: the lab notebook's test cells, the in-kernel self-check, the trusted
grader, the course set-up and the feedback report all need the same facts (grade ids and
points, input/output names and shapes, budgets, the training recipe). Each lab declares
them once, in its own module under :mod:`kerascourse.autograder.labs`, as a
:class:`LabSpec`; a grade cell lists the *names* of its checks, and the trusted scorer
(:mod:`kerascourse.autograder.trusted`) maps each name to one small grading step.

Public defaults only: what decides a grade for credit (seed, threshold, epochs, data) can
be overridden by the instructor's private config (:mod:`kerascourse.autograder.core.config`).

Importing this module imports no Keras.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kerascourse.autograder.checks.blocks import BlockSpec
from kerascourse.datasets._errors import unknown_name_message

#: Quality metrics a lab may name; ``quality.METRICS`` maps each to the grader's function.
METRIC_NAMES: tuple[str, ...] = ("accuracy", "r2", "mse")


class UnknownLabError(ValueError):
    """A lab id (or a grade id of a lab) that is not in the registry; lists the valid ones."""


@dataclass(frozen=True)
class GradeCell:
    """One nbgrader grade cell of a lab.

    Attributes:
        grade_id: the cell's nbgrader ``grade_id`` (``"q1_io_names_shapes"``).
        points: the cell's nbgrader points.
        visible: check names the student version's test cell runs (self-check).
        hidden: check names only the grader runs (between ``### BEGIN/END HIDDEN TESTS``).
        manual: graded by a person (a written answer); no checks.
        title: what the cell tests, in words, for reports.
    """

    grade_id: str
    points: float
    visible: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()
    manual: bool = False
    title: str = ""

    @property
    def checks(self) -> tuple[str, ...]:
        """All checks of the cell, visible first (what the trusted grader runs)."""
        return self.visible + self.hidden


@dataclass(frozen=True)
class Recipe:
    """How the grader trains a rebuilt model (the same for the student's and the reference).

    ``reference_epochs`` caps the reference model's run: it is trained only to time its
    epochs (the first is dropped, the median of the rest kept), so a few are enough.
    """

    optimizer: str = "adam"
    learning_rate: float = 3e-3
    loss: str | dict[str, str] = "sparse_categorical_crossentropy"
    loss_weights: dict[str, float] | None = None
    optimizer_options: dict[str, float] | None = None
    epochs: int = 8
    batch_size: int = 32
    reference_epochs: int = 4


@dataclass(frozen=True)
class LabSpec:
    """Everything the grader needs to know about one lab.

    Attributes:
        lab_id: the nbgrader assignment id and folder name (``labs/<lab_id>/``).
        notebook: the notebook's file name inside that folder.
        grade_cells: the grade cells, in notebook order.
        inputs: input name -> shape without the batch dimension.
        outputs: output name -> shape without the batch dimension.
        required_layers: layer classes that must appear at least once.
        forbidden_layers: layer classes that must not appear (checked in the JSON too).
        max_params: parameter budget (``model.count_params()``).
        max_flops: FLOPs budget of one forward pass on one example.
        max_time_ratio: public default of the epoch-time ratio budget.
        quality_threshold: public default of the minimum accuracy.
        recipe: the grader's training recipe (its ``epochs`` is the public default).
        public_data: ``public_data(seed)`` returns ``(x_train, y_train, x_test, y_test)``
            of the public grader data (bundled with the course; labs that sample it, like
            lab02's pairs, draw with the grader's seed, so a private seed gives other data).
        reference_model: builds the grader's reference model for the time ratio.
        export_file: the file the notebook's last cell writes.
        max_json_bytes: larger architecture files are refused unread.
        metric: the quality metric the grader computes with numpy, a key of
            ``quality.METRICS`` (``"accuracy"``, ``"r2"``). Defaults to `"accuracy"`.
        metric_output: the output the metric reads, for multi-output models (its labels
            are ``y_test[metric_output]``). Defaults to `None` (the only output).
        shared_layers: layer names (paths into nested models allowed) that must be called
            on two or more inputs, i.e. share their weights (the ``shared_layers`` check).
        tuned_optimizers: optimizer classes a learner may choose by compiling the model
            before it is exported (the JSON then carries ``compile_config``); the grader
            trains with that optimizer class and learning rate (and nothing else of its
            config). Empty: the recipe's optimizer, whatever the learner compiled.
        learning_rate_range: the learning rates a tuned optimizer may use, inclusive.
        blocks: the named blocks the model must contain (``residual_blocks`` and
            ``inception_blocks`` checks), each with its output shape and parameters.
        min_depth: fewest weighted layers on the longest input-to-output path (``depth``).
        max_loss_ratio: the ``degradation`` check's pass mark: final training loss of
            the model over that of its plain twin (shortcuts removed), both grader runs.
        baseline: ``baseline(x_train, y_train, x_test, y_test)`` returns the metric of the
            obvious non-deep model on the grader's data (the ``baseline`` check: the
            learner's model must beat it). Computed by the grader, so a private seed or
            dataset moves the bar with the data.
        prepare_model: called on every rebuilt model before the grader compiles it, e.g.
            to load the bundled pretrained weights into a transfer-learning lab's base
            (the exported JSON holds no weights); returns a passed :class:`CheckResult`
            or raises :class:`ArchitectureError` (the ``pretrained`` check reports it).
        frozen_layers: layer names (found anywhere, nested models included) that must be
            exported with ``trainable=False`` (the ``frozen`` check).
        private_npz: whether an instructor may give this lab's grader data as a private
            ``.npz`` (four numeric arrays). False where the data cannot be held that way
            (text: ``np.load(allow_pickle=False)`` cannot return the object arrays of
            strings that Keras needs); multi-input/-output labs are refused anyway.
        submission: what the notebook exports: ``"model"`` (an architecture, scored by
            :mod:`~kerascourse.autograder.trusted`'s named steps) or ``"callback"`` (a
            callback class's source: code, see :attr:`exports_code`, scored by the lab's
            own ``score_export``). Defaults to `"model"`.
        score_export: the lab's own scorer, for an export that is not an architecture.
            The trusted engine calls ``score_export(lab, source, config, *, path,
            sandbox)`` instead of its model steps, with the exported text (None when it is
            missing, empty, larger than ``max_json_bytes`` or not UTF-8), the grader
            config, the export's path and the sandbox ``(info, policy, secrets)`` to run
            code in (None: the lab uses ``trusted.default_sandbox()``); it returns a
            :class:`~kerascourse.autograder.trusted.result.TrustedResult`, built with
            ``trusted.scored_result`` and ``trusted.zero_result`` so its cells score and
            read like every other lab's. Defaults to `None` (the engine scores the architecture).
        local_scorer: the in-kernel self-check's scorer for such a lab.
            :mod:`~kerascourse.autograder.selfcheck` calls ``local_scorer(subject, seed)``
            with what the learner passes (lab04: the callback class; a wrong kind raises
            :class:`TypeError` naming the right one) and the public seed, and runs the
            grade cell's checks by name on what it returns (``run_check(name)``, like
            ``trusted.Scorer``). Defaults to `None` (the subject is a Keras model, rebuilt
            from ``model.to_json()`` and checked by the engine's steps).
    """

    lab_id: str
    notebook: str
    grade_cells: tuple[GradeCell, ...]
    inputs: dict[str, tuple[int | None, ...]]
    outputs: dict[str, tuple[int | None, ...]]
    required_layers: tuple[str, ...]
    forbidden_layers: tuple[str, ...]
    max_params: int
    max_flops: int
    max_time_ratio: float
    quality_threshold: float
    recipe: Recipe
    public_data: Callable[[int], tuple[Any, Any, Any, Any]] = field(repr=False)
    reference_model: Callable[[], Any] = field(repr=False)
    export_file: str = "submission_model.json"
    max_json_bytes: int = 1_000_000
    metric: str = "accuracy"
    metric_output: str | None = None
    shared_layers: tuple[str, ...] = ()
    tuned_optimizers: tuple[str, ...] = ()
    learning_rate_range: tuple[float, float] = (1e-4, 0.3)
    blocks: tuple[BlockSpec, ...] = ()
    min_depth: int = 0
    max_loss_ratio: float = 0.5
    baseline: Callable[[Any, Any, Any, Any], float] | None = field(default=None, repr=False)
    prepare_model: Callable[[Any], Any] | None = field(default=None, repr=False)
    frozen_layers: tuple[str, ...] = ()
    private_npz: bool = True
    submission: str = "model"
    score_export: Callable[..., Any] | None = field(default=None, repr=False)
    local_scorer: Callable[[Any, int], Any] | None = field(default=None, repr=False)

    def cell(self, grade_id: str) -> GradeCell:
        """The grade cell with this id; :class:`UnknownLabError` lists the valid ids."""
        for cell in self.grade_cells:
            if cell.grade_id == grade_id:
                return cell
        msg = unknown_name_message(f"grade id of {self.lab_id}:", grade_id, self.grade_ids())
        raise UnknownLabError(msg)

    def grade_ids(self) -> list[str]:
        """All grade ids, in notebook order."""
        return [cell.grade_id for cell in self.grade_cells]

    @property
    def autograded(self) -> tuple[GradeCell, ...]:
        """The cells the trusted grader scores (all but the manually graded ones)."""
        return tuple(cell for cell in self.grade_cells if not cell.manual)

    @property
    def exports_code(self) -> bool:
        """Whether the notebook exports code (a callback's source), not an architecture.

        Code is never run in the grader's own process: the trusted scorer runs it in a
        sandboxed worker, which the pipeline must give it (``--sandbox-spec``).
        """
        return self.submission != "model"

    @property
    def max_score(self) -> float:
        """Total points of the lab, manual cells included."""
        return float(sum(cell.points for cell in self.grade_cells))


