"""kerascourse.autograder: judging students' models from outside their kernel.

Planned (issue "Autograder"): architecture, budget, device and quality checks, the
nbgrader course configuration, and the ``kerascourse grade`` pipeline. Importable now so
the layout and packaging tests cover it; it imports nothing heavy at import time.
"""

from __future__ import annotations

__all__: list[str] = []
