"""The learner's callback class, called in this process behind a restricted model.

Why the same client in two places: in the notebook's self-check the class runs in the
learner's own kernel (:class:`LocalClient` wraps each run's model), and in the grader the
sandboxed worker (:mod:`.worker`) runs the very same :class:`LocalClient` with a proxy whose
weights live in the grader's process. Either way the callback sees a :class:`ModelProxy`
as ``self.model`` and its errors come back as the same one-line :class:`BridgeError`.

Importing this module imports no Keras.
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from kerascourse.autograder.labs.lab04_callbacks.wire import BridgeError

__all__ = [
    "PRELUDE",
    "SOURCE_NAME",
    "LocalClient",
    "ModelProxy",
    "apply_weights",
    "describe_error",
    "jsonable",
]

#: Where the exported source is run from (its name appears in the learner's tracebacks).
SOURCE_NAME = "submission_callback.py"
#: Names the exported cell may use without importing them (the lab's set-up cell's).
PRELUDE = "import math\nimport numpy as np\nimport keras\nfrom keras import layers\n"


class ModelProxy:
    """What the learner's callback sees as ``self.model`` while the grader trains.

    Why so little: the callback's job here is to decide (stop, keep, restore), and the
    grader must be able to check every decision. Anything else a real model offers is
    refused with the list of what is available, the same in the notebook and the grader.
    """

    def __init__(self, get: Callable[[], list[Any]], put: Callable[[list[Any]], None]) -> None:
        object.__setattr__(self, "_get", get)
        object.__setattr__(self, "_put", put)
        object.__setattr__(self, "stop_training", False)

    def get_weights(self) -> list[Any]:
        """Copies of the model's weights, as numpy arrays (``model.get_weights()``)."""
        return self._get()

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Replace the model's weights (same number, shapes and order as ``get_weights()``)."""
        self._put([_as_array(w) for w in weights])

    def __getattr__(self, name: str) -> Any:
        msg = (
            f"self.model.{name} is not available to a graded callback: the grader's model "
            "offers only self.model.stop_training, self.model.get_weights() and "
            "self.model.set_weights(weights). Decide from `logs` and those three."
        )
        raise AttributeError(msg)

    def __setattr__(self, name: str, value: Any) -> None:
        if name != "stop_training":
            msg = f"A graded callback may set only self.model.stop_training, not {name!r}."
            raise AttributeError(msg)
        object.__setattr__(self, name, bool(value))


def _as_array(value: Any) -> Any:
    import numpy as np

    return np.asarray(value)


def apply_weights(model: Any, arrays: Sequence[Any]) -> None:
    """Set ``model``'s weights from `arrays` after checking count and shapes.

    Raises:
        ValueError: the wrong number of arrays or a wrong shape, with what was expected.
    """
    import numpy as np

    want = [tuple(w.shape) for w in model.weights]
    have = [tuple(np.shape(a)) for a in arrays]
    if have != want:
        msg = (
            f"set_weights got {len(have)} arrays with shapes {have}; the model has "
            f"{len(want)} with shapes {want}. Pass back a list saved from "
            "self.model.get_weights()."
        )
        raise ValueError(msg)
    model.set_weights(
        [np.asarray(a, dtype=w.dtype) for a, w in zip(arrays, model.weights, strict=False)]
    )


def jsonable(value: Any, depth: int = 0) -> Any:
    """The learner's decision log as plain JSON data (numpy scalars become numbers)."""
    if depth > 20:
        return repr(value)[:200]
    if isinstance(value, dict):
        return {str(k): jsonable(v, depth + 1) for k, v in list(value.items())[:10_000]}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, depth + 1) for v in list(value)[:10_000]]
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return jsonable(item(), depth + 1)
        except (TypeError, ValueError):
            pass
    return repr(value)[:200]


def _hook_args(name: str, epoch: int | None, logs: dict[str, float]) -> tuple[Any, ...]:
    return (epoch, logs) if name in ("on_epoch_begin", "on_epoch_end") else (logs,)


def describe_error(exc: BaseException, where: str) -> str:
    """The learner's error in one line, with the line of their source that raised it."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == SOURCE_NAME]
    line = f" ({SOURCE_NAME} line {frames[-1].lineno}: {frames[-1].line})" if frames else ""
    return f"{where} raised {type(exc).__name__}: {str(exc)[:300]}{line}"


class LocalClient:
    """Runs the learner's class in this process (the notebook's self-check).

    The sandboxed worker uses it too, with a fixed `proxy` whose weights live in the
    grader's process; in the notebook the proxy wraps each run's model.
    """

    def __init__(self, cls: type, proxy: ModelProxy | None = None) -> None:
        self.cls = cls
        self.callback: Any = None
        self.proxy = proxy
        self.model: Any = None
        self._remote = proxy is not None

    def new(self, kwargs: dict[str, Any], model: Any) -> None:
        """A fresh instance of the class, called with `kwargs`, watching `model`."""
        self.attach(model)
        try:
            self.callback = self.cls(**kwargs)
        except Exception as exc:  # noqa: BLE001 - the learner's error, reported
            args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
            raise BridgeError(describe_error(exc, f"{self.cls.__name__}({args})")) from None
        self.callback.set_model(self.proxy)

    def attach(self, model: Any) -> None:
        """Point the proxy at the model of the next run (the same instance, refit)."""
        self.model = model
        if not self._remote:
            self.proxy = ModelProxy(model.get_weights, lambda ws: apply_weights(self.model, ws))
        if self.callback is not None:
            self.callback.set_model(self.proxy)

    def hook(self, name: str, epoch: int | None, logs: dict[str, float], stop: bool) -> bool:
        """Call one hook; return ``self.model.stop_training`` after it."""
        assert self.proxy is not None
        self.proxy.stop_training = stop
        try:
            getattr(self.callback, name)(*_hook_args(name, epoch, logs))
        except Exception as exc:  # noqa: BLE001 - the learner's error, reported
            where = f"{type(self.callback).__name__}.{name}" + (
                f" (epoch {epoch})" if epoch is not None else ""
            )
            raise BridgeError(describe_error(exc, where)) from None
        return self.proxy.stop_training

    def state(self, attribute: str) -> Any:
        """An attribute of the callback (its decision log) as JSON data; None if missing."""
        return jsonable(getattr(self.callback, attribute, None))

    def close(self) -> None:
        """Nothing to stop in this process."""
