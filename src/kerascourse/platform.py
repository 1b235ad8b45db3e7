"""Where the course is running: Colab, Binder or a local machine.

Why: notebooks install things only on Colab, the doctor explains fixes per platform, and
the lab launcher behaves differently as root. Detection uses environment variables each
platform sets, so it is cheap and can be faked in tests.
"""

from __future__ import annotations

import os
import sys
from typing import Literal

Platform = Literal["colab", "binder", "local"]


def detect() -> Platform:
    """Return ``"colab"``, ``"binder"`` or ``"local"``.

    Colab sets ``COLAB_RELEASE_TAG`` (and has ``google.colab`` importable); Binder
    (repo2docker on mybinder.org) sets ``BINDER_LAUNCH_HOST`` / ``BINDER_REPO_URL``.
    """
    if os.environ.get("COLAB_RELEASE_TAG") or "google.colab" in sys.modules:
        return "colab"
    if os.environ.get("BINDER_LAUNCH_HOST") or os.environ.get("BINDER_REPO_URL"):
        return "binder"
    return "local"


def is_root() -> bool:
    """True when running as root (JupyterLab then needs ``--allow-root``)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0
