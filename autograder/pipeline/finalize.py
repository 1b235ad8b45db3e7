"""Step ``finalize``: the scores per cell and the notebook for ``autograded/``.

Why: nbgrader's executed notebook carries whatever the kernel printed; the one the
instructor and the student see is rebuilt from the release (locked cells restored) with
the trusted scorer's messages as the outputs of the test cells
(:func:`~kerascourse.autograder.pipeline.merge.finalize_notebook`), and each autograded
cell gets the trusted score, or 0 with the reason when there is none.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kerascourse.autograder.core.spec import METRIC_NAMES
from kerascourse.autograder.pipeline.job import Job, Work

#: What a student reads when no model reached the grader.
NO_MODEL_ADVICE = (
    "Run the whole notebook (Kernel > Restart & Run All) so that its last cell writes "
    "its export file (submission_model.json, or submission_callback.py in lab 04), and "
    "keep that cell as it is."
)


def finalize(job: Job, work: Work) -> None:
    """Step ``finalize``: scores per cell and the notebook for ``autograded/``."""
    import nbformat
    from kerascourse.autograder.pipeline.merge import finalize_notebook

    out, trusted = work.out, work.trusted
    scores = scores_from_trusted(trusted, job.autograded_ids, job.points, out)
    out["scores"] = {gid: dataclasses.asdict(s) for gid, s in scores.items()}
    out["score"] = round(sum(s.score for s in scores.values()), 4)
    out["max_score"] = float(sum(job.points[g] for g in job.autograded_ids))
    out["budget"] = budget_figures(trusted)
    out["flags"] = list(dict.fromkeys(out["flags"]))
    if trusted:
        out["flags"] += [f for f in trusted.get("flags", []) if f not in out["flags"]]
        if "no model exported" in trusted.get("flags", []) and out["status"] == "graded":
            out.update(status="failed", reason=f"no model exported ({job.export_file})")
    banner = ""
    if out["status"] != "graded":
        banner = f"{out['status']}: {out['reason']}. Scores below are the grader's."
    nb, executed = work.nb, work.executed
    base = executed if executed is not None else (nb if nb is not None else work.release)
    final = finalize_notebook(base, work.release, scores, banner=banner)
    path = Path(job.job_dir) / "out" / f"{job.notebook_id}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(final, path)
    out["final_notebook"] = str(path)


def scores_from_trusted(
    trusted: dict[str, Any] | None,
    autograded_ids: Sequence[str],
    points: dict[str, float],
    out: dict[str, Any],
) -> dict[str, Any]:
    """Grade id -> :class:`~kerascourse.autograder.pipeline.merge.CellScore` for every autograded
    cell, read from the trusted scorer's result file (0 with the reason when absent)."""
    from kerascourse.autograder.pipeline.merge import CellScore

    cells = (trusted or {}).get("cells") or {}
    scores = {}
    for gid in autograded_ids:
        entry = cells.get(gid) if isinstance(cells, dict) else None
        if not isinstance(entry, dict):
            why = out.get("reason") or "the grader produced no score for this cell"
            advice = NO_MODEL_ADVICE if "no model" in why else ""
            scores[gid] = CellScore(0.0, points[gid], [f"No score: {why}. {advice}".strip()])
            continue
        score = min(max(float(entry.get("score", 0.0)), 0.0), points[gid])
        messages = [str(m) for m in entry.get("messages", [])]
        scores[gid] = CellScore(score, points[gid], messages)
    return scores


def budget_figures(trusted: dict[str, Any] | None) -> dict[str, Any]:
    """Parameters, FLOPs, time ratio and the quality metric from a trusted result."""
    figures = (trusted or {}).get("measurements") or {}
    keys = ("params", "flops", "time_ratio", *METRIC_NAMES)
    return {k: figures[k] for k in keys if figures.get(k) is not None}
