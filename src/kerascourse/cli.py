"""The ``kerascourse`` console command: ``doctor``, ``lab``, ``release-notebooks``, ``version``.

Sub-commands are thin: each parses arguments and calls one module, so the same behaviour
is reachable from Python (``kerascourse.doctor.run_checks()``) and from the shell.

Why `main` quiets TensorFlow first: ``make`` exports the quiet environment, but a learner
typing ``kerascourse doctor`` in a fresh shell does not, and TensorFlow reads
``TF_CPP_MIN_LOG_LEVEL`` and ``TF_ENABLE_ONEDNN_OPTS`` once, when it is imported. Without
them its C++ start-up lines ("oneDNN custom operations are on", CPU feature notes) land on
stderr and look like errors. Values already set by the user win (``setdefault``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from kerascourse import __version__


def _doctor(args: argparse.Namespace) -> int:
    from kerascourse import doctor

    results = doctor.run_checks(gpu=not args.no_gpu)
    if args.json:
        print(json.dumps(doctor.as_dicts(results), indent=2))
    else:
        doctor.render(results)
    return doctor.exit_code(results)


def _lab(args: argparse.Namespace) -> int:
    from kerascourse import lab

    try:
        argv = lab.lab_command(port=args.port, root=args.root, open_browser=not args.no_browser)
    except FileNotFoundError as exc:
        print(f"kerascourse lab: {exc}", file=sys.stderr)
        return 2
    if args.print_command:
        print(" ".join(argv))
        return 0
    lab.launch(port=args.port, root=args.root, open_browser=not args.no_browser)
    return 0  # not reached: launch() replaces the process


def _release_notebooks(args: argparse.Namespace) -> int:
    from kerascourse import lab, release

    try:
        root = lab.course_root(args.root)
    except FileNotFoundError as exc:
        print(f"kerascourse release-notebooks: {exc}", file=sys.stderr)
        return 2
    for path in release.write_release_notebooks(root):
        print(f"wrote {path.relative_to(root)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and --help)."""
    parser = argparse.ArgumentParser(
        prog="kerascourse",
        description="Beyond Sequential course kit.",
        epilog="examples:\n  kerascourse doctor\n  kerascourse lab --port 8890 --no-browser",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kerascourse {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    doc = sub.add_parser("doctor", help="check Python, Keras, backend, GPU, data and font")
    doc.add_argument("--json", action="store_true", help="print the report as JSON")
    doc.add_argument("--no-gpu", action="store_true", help="skip the GPU query (fast)")
    doc.set_defaults(func=_doctor)

    lab = sub.add_parser("lab", help="open JupyterLab at the course root (what make lab runs)")
    lab.add_argument("--port", type=int, default=8888, help="port on 127.0.0.1 (default 8888)")
    lab.add_argument("--root", default=None, help="course folder (default: found from here)")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser")
    lab.add_argument("--print-command", action="store_true", help="print the command, do not run")
    lab.set_defaults(func=_lab)

    rel = sub.add_parser(
        "release-notebooks",
        help="regenerate release/: the labs' student versions (nbgrader) the Colab badges open",
    )
    rel.add_argument("--root", default=None, help="course folder (default: found from here)")
    rel.set_defaults(func=_release_notebooks)

    from kerascourse.autograder.cli import register as register_grading  # grade, check

    register_grading(sub)
    return parser


def quiet_tensorflow() -> None:
    """Set the kit's quiet TensorFlow environment, keeping any value the user already set.

    Must run before anything imports TensorFlow (it reads these variables at import only);
    sub-processes the commands start (kernels, the grader's sandbox) inherit them.
    """
    from kerascourse.runner import QUIET_TF_ENV  # standard library only: cheap

    for name, value in QUIET_TF_ENV.items():
        os.environ.setdefault(name, value)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kerascourse`` console script and of ``python -m kerascourse``."""
    quiet_tensorflow()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
