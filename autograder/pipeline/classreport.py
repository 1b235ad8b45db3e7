"""The class report: one HTML page beside the grades CSV, for the instructor.

Why a page of its own: nbgrader's CSV says who got what; an instructor also needs to see
how the class did (score distribution), which test most students failed (pass rate per
grade cell), what the models cost (parameters, FLOPs, epoch-time ratio, accuracy, all from
the trusted scorer) and who was flagged and why. Everything is read from the results
store, so the report can be rebuilt at any time without grading again. The plot is a PNG
embedded as base64: the page is one self-contained file to mail or archive.
"""

from __future__ import annotations

import base64
import html
import io
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from kerascourse.autograder.core.spec import METRIC_NAMES

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em}
th{background:#f3f3f3;text-align:left}td.num{text-align:right}.bad{color:#b00}
.warn{background:#fff4d6;padding:.6em;border:1px solid #e0c060}
"""


def report_path(course_dir: str | Path, lab_id: str) -> Path:
    """Where the class report of a lab is written (beside ``exports/grades.csv``)."""
    return Path(course_dir) / "exports" / f"{lab_id}_class_report.html"


def pass_rates(records: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """Grade id -> {"full": share with full points, "mean": mean score, "points": max}."""
    out: dict[str, dict[str, float]] = {}
    for gid in sorted({g for r in records for g in r.get("scores", {})}, key=_cell_order(records)):
        cells = [r["scores"][gid] for r in records if gid in r.get("scores", {})]
        points = float(cells[0]["points"]) if cells else 0.0
        full = sum(1 for c in cells if points and float(c["score"]) >= points)
        out[gid] = {
            "full": full / len(cells) if cells else 0.0,
            "mean": sum(float(c["score"]) for c in cells) / len(cells) if cells else 0.0,
            "points": points,
        }
    return out


def _cell_order(records: Sequence[Mapping[str, Any]]):
    order: dict[str, int] = {}
    for rec in records:
        for gid in rec.get("scores", {}):
            order.setdefault(gid, len(order))
    return lambda gid: order[gid]


def distribution_png(scores: Iterable[float], max_score: float) -> str:
    """Base64 PNG of the score histogram (matplotlib, no pyplot state)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 2.8), dpi=100)
    ax = fig.add_subplot()
    values = list(scores)
    top = max(max_score, max(values, default=0.0), 1.0)
    bins = [i * top / 10 for i in range(11)]
    ax.hist(values, bins=bins, color="#4a78b5", edgecolor="white")
    ax.set_xlabel(f"autograded score (out of {max_score:g})")
    ax.set_ylabel("students")
    ax.set_xlim(0, top)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def render(lab_id: str, records: Sequence[Mapping[str, Any]], *, sandbox: str = "") -> str:
    """The report's HTML text (pure: records in, page out)."""
    esc = html.escape
    max_score = max((float(r.get("max_score", 0)) for r in records), default=0.0)
    scores = [float(r.get("score", 0.0)) for r in records]
    counts = {
        s: sum(1 for r in records if r.get("status") == s) for s in ("graded", "failed", "crashed")
    }
    flagged = [r for r in records if r.get("flags")]
    parts = [
        (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(lab_id)} class report"
            f"</title><style>{_CSS}</style></head><body>"
        ),
        f"<h1>{esc(lab_id)}: class report</h1>",
        (
            f"<p>{len(records)} students; graded {counts['graded']}, failed {counts['failed']}, "
            f"crashed {counts['crashed']}, flagged {len(flagged)}. Written "
            f"{esc(time.strftime('%Y-%m-%d %H:%M'))}. Scores are the trusted grader's "
            "(autograded cells only; manually graded cells are in the CSV once graded).</p>"
        ),
    ]
    if sandbox:
        cls = "warn" if sandbox.startswith("NO SANDBOX") else ""
        parts.append(f"<p class='{cls}'>Sandbox: {esc(sandbox)}</p>")
    if records:
        png = distribution_png(scores, max_score)
        mean = sum(scores) / len(scores)
        parts.append("<h2>Score distribution</h2>")
        parts.append(f"<p>mean {mean:.2f} / {max_score:g}</p>")
        parts.append(f"<img alt='score distribution' src='data:image/png;base64,{png}'>")
    parts.append("<h2>Pass rate per test</h2><table><tr><th>grade cell</th><th>points</th>")
    parts.append("<th>full marks</th><th>mean score</th></tr>")
    for gid, rate in pass_rates(records).items():
        parts.append(
            f"<tr><td>{esc(gid)}</td><td class='num'>{rate['points']:g}</td>"
            f"<td class='num'>{rate['full']:.0%}</td><td class='num'>{rate['mean']:.2f}</td></tr>"
        )
    parts.append("</table>")
    parts.append("<h2>Per student</h2><table><tr><th>student</th><th>status</th><th>score</th>")
    metric = next((m for m in METRIC_NAMES for r in records if m in (r.get("budget") or {})), "")
    parts.append("<th>parameters</th><th>FLOPs</th><th>epoch-time ratio</th>")
    parts.append(f"<th>{esc(metric or 'quality')}</th>")
    parts.append("</tr>")
    for rec in records:
        b = rec.get("budget") or {}
        status = esc(str(rec.get("status", "")))
        cls = " class='bad'" if rec.get("status") != "graded" else ""
        parts.append(
            f"<tr><td>{esc(rec['student_id'])}</td><td{cls}>{status}</td>"
            f"<td class='num'>{float(rec.get('score', 0)):g} / {float(rec.get('max_score', 0)):g}"
            f"</td><td class='num'>{_fmt(b.get('params'), ',.0f')}</td>"
            f"<td class='num'>{_fmt(b.get('flops'), ',.0f')}</td>"
            f"<td class='num'>{_fmt(b.get('time_ratio'), '.2f')}</td>"
            f"<td class='num'>{_fmt(b.get(metric), '.3f')}</td></tr>"
        )
    parts.append("</table><h2>Flagged</h2>")
    if not flagged:
        parts.append("<p>Nobody.</p>")
    else:
        parts.append("<table><tr><th>student</th><th>why</th><th>status</th></tr>")
        for rec in flagged:
            why = "<br>".join(esc(str(f)) for f in rec["flags"])
            reason = esc(str(rec.get("reason") or ""))
            parts.append(
                f"<tr><td>{esc(rec['student_id'])}</td><td>{why}</td>"
                f"<td>{esc(str(rec.get('status')))} {reason}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _fmt(value: Any, spec: str) -> str:
    if value is None:
        return "–"
    try:
        return format(float(value), spec)
    except (TypeError, ValueError):
        return html.escape(str(value))


def write_class_report(course_dir: str | Path, lab_id: str, report: Any) -> Path:
    """Write the report for a :class:`~kerascourse.autograder.pipeline.options.GradingReport`."""
    from kerascourse.autograder.pipeline.merge import write_atomic

    path = report_path(course_dir, lab_id)
    text = render(lab_id, report.records, sandbox=report.sandbox)
    write_atomic(path, text.encode("utf-8"))
    return path
