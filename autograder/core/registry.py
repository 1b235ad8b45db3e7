"""Which labs exist: every module (or package) in :mod:`kerascourse.autograder.labs`.

Why discovery instead of a list: adding a lab is adding one module that defines
``SPEC = LabSpec(...)`` (named like the lab's folder in ``labs/``), and nothing else; the
core never imports a lab by name, the way pytest finds its plugins. A lab is imported the
first time it is asked for, so grading lab01 never imports lab06's jieba.

Importing this module imports no lab and no Keras.
"""

from __future__ import annotations

import importlib
import pkgutil

from kerascourse.autograder.core.spec import LabSpec, UnknownLabError
from kerascourse.datasets._errors import unknown_name_message

#: The package whose modules are the labs.
LABS_PACKAGE = "kerascourse.autograder.labs"

_loaded: dict[str, LabSpec] = {}


def lab_ids() -> list[str]:
    """Ids of every lab the grader knows, sorted (read from the package, nothing imported)."""
    package = importlib.import_module(LABS_PACKAGE)
    return sorted(
        info.name for info in pkgutil.iter_modules(package.__path__) if info.name.startswith("lab")
    )


def get_lab(lab_id: str) -> LabSpec:
    """The spec of a lab; an unknown id raises :class:`UnknownLabError` listing valid ones.

    Example:
        >>> get_lab("lab01_functional_api").cell("q2_budget").points
        2
    """
    if lab_id in _loaded:
        return _loaded[lab_id]
    if not isinstance(lab_id, str) or lab_id not in lab_ids():
        msg = unknown_name_message("lab", lab_id, lab_ids())
        raise UnknownLabError(msg)
    spec = importlib.import_module(f"{LABS_PACKAGE}.{lab_id}").SPEC
    if spec.lab_id != lab_id:
        msg = f"{LABS_PACKAGE}.{lab_id} declares SPEC.lab_id={spec.lab_id!r}; rename one of them."
        raise UnknownLabError(msg)
    _loaded[lab_id] = spec
    return spec
