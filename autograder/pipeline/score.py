"""Step ``score``: the trusted scorer, in a fresh process that never ran student code,
with a cache so that identical exports are scored once per config and grader code.

Why a fresh process: the kernel's own test outputs are never trusted (it could print
anything). ``python -m kerascourse.autograder.trusted`` rebuilds the exported model and
trains and judges it itself; an exported callback (a lab that exports code) runs in a
worker inside the same sandbox as the notebook (``--sandbox-spec``). Why a cache: two
students with the same model get the same score, and it is computed once; its key is the
export's sha256 plus :func:`cache_salt` (the lab, the private config and every module of
the grader), so an edited check never serves an old score.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from kerascourse.autograder import sandbox as sb
from kerascourse.autograder.pipeline.job import Job, Work

#: The grader's code (the ``kerascourse.autograder`` package): every ``.py`` file under it
#: goes into :func:`cache_salt`.
GRADER_ROOT = Path(__file__).resolve().parents[1]


def score(job: Job, work: Work) -> None:
    """Step ``score``: the trusted scorer on the exported file (cached when allowed)."""
    out, model_path = work.out, work.model_path
    if model_path is None:
        if out["status"] == "graded":
            out.update(status="failed", reason=f"no model exported ({job.export_file})")
        out["flags"].append("no model exported")
        return
    if job.cache_dir is None:
        work.trusted = score_now(job, model_path, out)
        return
    digest = hashlib.sha256(model_path.read_bytes() + job.cache_salt.encode()).hexdigest()
    cache = Path(job.cache_dir) / f"{digest}.json"
    cache.parent.mkdir(parents=True, exist_ok=True)
    import fcntl

    with open(cache.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two workers, same model: score it once
        if cache.exists():
            out["trusted_cached"] = True
            work.trusted = json.loads(cache.read_text())
            return
        data = score_now(job, model_path, out)
        if data is not None:
            tmp = cache.with_suffix(".tmp")
            tmp.write_text(json.dumps(data))
            os.replace(tmp, cache)
        work.trusted = data


def score_now(job: Job, model_path: Path, out: dict[str, Any]) -> dict[str, Any] | None:
    """Run the trusted scorer on one export file; None (with the reason in `out`) on failure."""
    result_path = Path(job.job_dir) / "trusted.json"
    result_path.unlink(missing_ok=True)
    cmd = [*job.trusted_cmd, "--model", str(model_path), "--out", str(result_path)]
    if job.exports_code:  # code (lab04's callback): run in the same sandbox
        spec = Path(job.job_dir) / "sandbox.json"
        spec.write_text(
            json.dumps({"info": job.info, "policy": job.policy, "secrets": job.secrets})
        )
        cmd += ["--sandbox-spec", str(spec)]
    proc = run_trusted(cmd, job.score_timeout, job.policy.get("memory_bytes"), job.threads)
    if proc is None or not result_path.exists():
        reason = "timed out" if proc is None else f"exit {proc.returncode}"
        tail = "" if proc is None else (proc.stdout + proc.stderr)[-1500:]
        out.update(status="failed", reason=f"the trusted scorer failed ({reason})")
        out["flags"].append(f"trusted scorer failed ({reason})")
        out["scorer_log"] = tail
        return None
    return json.loads(result_path.read_text())


def run_trusted(
    cmd: list[str], timeout: float, memory: int | None, threads: int | None
) -> subprocess.CompletedProcess[str] | None:
    """Run the trusted scorer's command with ``RLIMIT_AS`` (CPU) and no core dumps.

    Returns None when it ran past `timeout` seconds. With `threads`, each numeric
    library gets that many threads (parallel grading: no oversubscription, so the
    measured time ratios stay fair).
    """
    import resource

    from kerascourse.runner import QUIET_TF_ENV

    def limits() -> None:
        if memory and not sb.gpu_present():
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    env = {**os.environ, **QUIET_TF_ENV}
    if threads:  # parallel grading: one core each, no oversubscription (ratios stay fair)
        for key in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "OPENBLAS_NUM_THREADS"):
            env[key] = str(threads)
    try:
        return subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
            stdin=subprocess.DEVNULL,
            preexec_fn=limits,
        )
    except subprocess.TimeoutExpired:
        return None


def cache_salt(config_path: str | None, lab_id: str, *, root: Path | None = None) -> str:
    """What a trusted result depends on besides the export: the lab, config, grader code.

    The grader code is every ``.py`` file under `root` (defaults to :data:`GRADER_ROOT`,
    the whole ``kerascourse.autograder`` package, subfolders included: a lab module or a
    check edited anywhere changes the salt), each hashed with its path relative to
    `root`, in sorted order, so a file moved or added changes it too.
    """
    digest = hashlib.sha256(lab_id.encode())
    if config_path:
        digest.update(Path(config_path).expanduser().read_bytes())
    base = GRADER_ROOT if root is None else Path(root)
    files = sorted((p.relative_to(base).as_posix(), p) for p in base.rglob("*.py"))
    for rel, path in files:
        if "__pycache__" in rel.split("/"):
            continue
        digest.update(rel.encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()
