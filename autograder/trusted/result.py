"""What the trusted scorer hands back: one :class:`TrustedResult` per submission.

Why its own module: the pipeline, the class report and a lab that scores its own export
(lab04's callback) all build or read results, and none of them needs the scorer for that.
The JSON file a result writes (``--out``) carries ``RESULT_SCHEMA``.

Importing this module imports no Keras.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kerascourse.autograder.core.results import CheckResult

__all__ = [
    "FLAG_GRADER_ERROR",
    "FLAG_NO_MODEL",
    "FLAG_REFUSED",
    "RESULT_SCHEMA",
    "CellScore",
    "TrustedResult",
]

#: Flags a result may carry (the pipeline's summary and the class report list them).
FLAG_NO_MODEL = "no model exported"
FLAG_REFUSED = "model refused"
FLAG_GRADER_ERROR = "grader error"

#: Version of the result file's layout (its ``"schema"`` key).
RESULT_SCHEMA = 1


@dataclass
class CellScore:
    """The trusted score of one autograded grade cell.

    All-or-nothing like an nbgrader test cell: ``score`` is the cell's points when every
    check passed, else 0. ``results`` hold every check's measured/allowed/advice.
    """

    grade_id: str
    score: float
    max_score: float
    results: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether every check of the cell passed."""
        return bool(self.results) and all(r.passed for r in self.results)

    def messages(self) -> list[str]:
        """One line per check, as the learner sees them (``[ok] ...`` / ``[FAILED] ...``)."""
        return [r.message() for r in self.results]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for the JSON result file."""
        return {
            "grade_id": self.grade_id,
            "score": self.score,
            "max_score": self.max_score,
            "passed": self.passed,
            "messages": self.messages(),
            "results": [r.to_dict() for r in self.results],
        }


@dataclass
class TrustedResult:
    """The trusted grader's verdict on one submission of one lab.

    Attributes:
        lab_id: the lab.
        model_path: the architecture file that was scored (None when scored from text).
        cells: grade id -> :class:`CellScore`, for every autograded cell, in notebook order.
        flags: ``FLAG_*`` values that need an instructor's attention (empty when none).
        measurements: numbers behind the scores (parameters, FLOPs, accuracy, epoch times,
            time ratio, device), for the feedback and the class report.
        config: the grader settings used (thresholds, epochs, seed, data source and hash).
        seconds: wall time of the scoring.
    """

    lab_id: str
    model_path: str | None
    cells: dict[str, CellScore]
    flags: list[str] = field(default_factory=list)
    measurements: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def score(self) -> float:
        """Sum of the autograded cells' scores."""
        return float(sum(c.score for c in self.cells.values()))

    @property
    def max_score(self) -> float:
        """Sum of the autograded cells' points (manual cells are not included)."""
        return float(sum(c.max_score for c in self.cells.values()))

    def scores(self) -> dict[str, float]:
        """grade id -> score (what the pipeline writes into the gradebook)."""
        return {gid: cell.score for gid, cell in self.cells.items()}

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable dict (the ``--out`` file)."""
        return {
            "schema": RESULT_SCHEMA,
            "lab_id": self.lab_id,
            "model_path": self.model_path,
            "score": self.score,
            "max_score": self.max_score,
            "flags": list(self.flags),
            "cells": {gid: cell.to_dict() for gid, cell in self.cells.items()},
            "measurements": self.measurements,
            "config": self.config,
            "seconds": round(self.seconds, 3),
        }

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the JSON result atomically (a temp file moved into place)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, default=_jsonable) + "\n")
        tmp.replace(path)
        return path


def _jsonable(obj: Any) -> Any:
    """numpy scalars and tuples in check details -> plain JSON values."""
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)

