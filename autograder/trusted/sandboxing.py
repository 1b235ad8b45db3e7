"""The sandbox the trusted scorer runs a lab's exported code in (lab04's callback).

Why here and not in a lab: which sandbox is available and what it must hide (the
private config, the course checkout with its hidden tests and solutions) is the same for
any lab that exports code. The grading pipeline decides it once per run and hands it to
the scorer as a JSON file (``--sandbox-spec``, read by :func:`read_sandbox_spec`); run on
its own, the scorer detects it (:func:`default_sandbox`).

Importing this module imports no Keras.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kerascourse.autograder.core.checkout import LABS_DIR, checkout_of

__all__ = ["default_sandbox", "read_sandbox_spec"]


def default_sandbox(secrets: Sequence[Path] = ()) -> tuple[Any, Any, list[Path]]:
    """Sandbox settings when the pipeline gave none: detect, hide the checkout.

    Returns ``(SandboxInfo, SandboxPolicy, hidden paths)``: the sandbox
    ``$KERASCOURSE_SANDBOX`` asks for (``auto`` by default), a 600 s timeout, and
    `secrets` plus the repository checkout (or the labs' folder) hidden from the code.
    """
    from kerascourse.autograder import sandbox as sb

    hidden = [Path(p) for p in secrets]
    hidden.append(checkout_of(LABS_DIR) or LABS_DIR.resolve())
    policy = sb.SandboxPolicy(timeout=600.0)
    return sb.detect(os.environ.get("KERASCOURSE_SANDBOX", "auto")), policy, hidden


def read_sandbox_spec(path: str) -> tuple[Any, Any, list[Path]]:
    """The sandbox the grading pipeline uses, as it wrote it for this scorer (JSON)."""
    from kerascourse.autograder import sandbox as sb

    data = json.loads(Path(path).read_text())
    return (
        sb.SandboxInfo(**data["info"]),
        sb.SandboxPolicy(**data["policy"]),
        [Path(p) for p in data["secrets"]],
    )
