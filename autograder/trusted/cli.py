"""``python -m kerascourse.autograder.trusted``: score one submission in a fresh process.

Command line (what the grading pipeline runs per submission)::

    python -m kerascourse.autograder.trusted --lab lab01_functional_api \\
        --model submission_model.json --out result.json [--config private.toml]

Exit status: 0 when a result was written (whatever the score), 2 for a usage or
configuration error (unknown lab, bad config, grader data failing its hash; nothing
written), 1 when the scorer itself crashed.

A lab that exports code (``LabSpec.exports_code``) is scored in the sandbox the pipeline
wrote (``--sandbox-spec``) or, run by hand, the one :func:`default_sandbox` detects, with
the private config hidden from that code.

Importing this module imports no Keras.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kerascourse.autograder.core.config import GraderConfigError, load_config
from kerascourse.autograder.core.registry import get_lab
from kerascourse.autograder.core.spec import UnknownLabError
from kerascourse.autograder.trusted.engine import score_submission
from kerascourse.autograder.trusted.sandboxing import default_sandbox, read_sandbox_spec

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser (exposed for tests and ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m kerascourse.autograder.trusted",
        description="Score a lab's exported architecture in this (trusted) process.",
        epilog="example:\n  python -m kerascourse.autograder.trusted --lab lab01_functional_api "
        "--model submission_model.json --out result.json --config /srv/grading/private.toml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--lab", required=True, help="lab id, e.g. lab01_functional_api")
    parser.add_argument(
        "--model",
        "--submission",
        dest="model",
        required=True,
        help="the exported file (submission_model.json; lab04: submission_callback.py)",
    )
    parser.add_argument("--out", required=True, help="where to write the JSON result")
    parser.add_argument(
        "--config",
        default=None,
        help="private grader config (TOML); default: $KERASCOURSE_GRADER_CONFIG or public",
    )
    parser.add_argument(
        "--sandbox-spec",
        default=None,
        help="JSON written by the grading pipeline: the sandbox for code a lab exports",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 scored, 2 usage/config error, 1 crash)."""
    from kerascourse.datasets import DataIntegrityError

    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config)
        sandbox = None
        if get_lab(args.lab).exports_code:
            secret = [Path(args.config).expanduser().resolve()] if args.config else []
            spec = args.sandbox_spec
            sandbox = read_sandbox_spec(spec) if spec else default_sandbox(secret)
        result = score_submission(args.lab, args.model, config, sandbox=sandbox)
    except (UnknownLabError, GraderConfigError, DataIntegrityError) as err:
        sys.stderr.write(f"trusted grader: {err}\n")
        return 2
    result.write(args.out)
    summary = f"{result.lab_id}: {result.score:g}/{result.max_score:g}"
    if result.flags:
        summary += f" (flags: {', '.join(result.flags)})"
    sys.stdout.write(summary + "\n")
    return 0

