"""Run a learner's Keras callback against a training run it cannot touch.

Why a bridge: a callback *is* code, and the trusted grader never runs student code in its
own process. So the grader trains the model itself and calls the learner's callback
across a process boundary: the grader-side callback :func:`make_bridge` builds forwards
each epoch-level hook (``on_train_begin``, ``on_epoch_begin``, ``on_epoch_end``,
``on_train_end``) to a *client*, and the learner's callback sees a
:class:`~.local.ModelProxy` as ``self.model``: the three things an early-stopping callback
needs (``stop_training``, ``get_weights()``, ``set_weights()``) and nothing else. Only
decisions cross back: the stop flag, weights (checked against the model's shapes) and the
callback's decision log as JSON data.

Two clients, the same protocol and messages:

- :class:`~.local.LocalClient` calls the class in this process (the learner's self-check
  in the notebook; the kernel is theirs anyway);
- :class:`~.sandboxed.SandboxedClient` runs the exported source in a subprocess inside
  :mod:`kerascourse.autograder.sandbox` (network off, secrets hidden, resource limits),
  speaking length-prefixed JSON with weights as ``.npy`` bytes over its stdin/stdout
  (:mod:`.wire`). Nothing from it is unpickled (``allow_pickle=False``), every read has a
  deadline, and the learner's ``print`` goes to a log, never into the protocol.

Worker command (started by :class:`~.sandboxed.SandboxedClient`, see :mod:`.worker`)::

    python -m kerascourse.autograder.labs.lab04_callbacks.worker SOURCE.py CLASS_NAME

Importing this module imports no Keras.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kerascourse.autograder.labs.lab04_callbacks.wire import BridgeError

__all__ = ["HOOKS", "make_bridge"]

#: The hooks forwarded to the learner's callback (epoch level; batch hooks are not).
HOOKS = ("on_train_begin", "on_epoch_begin", "on_epoch_end", "on_train_end")


def make_bridge(client: Any, values: Sequence[float] | None, monitor: str) -> Any:
    """The grader's callback for one ``fit``: records, scripts ``logs`` and forwards.

    At every epoch end it first records the model's weights (what "the best epoch's
    weights" must equal later), then hands the learner ``{"loss": ..., monitor: ...}``
    where the monitored value is the script's (`values[epoch]`) or, with no script, the
    real one, and applies the ``stop_training`` the learner's callback left.
    """
    import keras

    class Bridge(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.weights: list[list[Any]] = []
            self.values: list[float] = []
            self.error: str | None = None

        def _forward(self, name: str, epoch: int | None, logs: dict[str, float]) -> None:
            if self.error is not None:
                return
            try:
                stop = client.hook(name, epoch, logs, bool(self.model.stop_training))
            except BridgeError as err:
                self.error = str(err)
                self.model.stop_training = True
                return
            self.model.stop_training = stop

        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            self._forward("on_train_begin", None, {})

        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self._forward("on_epoch_begin", epoch, {})

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            logs = logs or {}
            self.weights.append(self.model.get_weights())
            value = float(values[epoch]) if values is not None else float(logs[monitor])
            self.values.append(value)
            self._forward("on_epoch_end", epoch, {"loss": float(logs["loss"]), monitor: value})

        def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
            self._forward("on_train_end", None, {})

    return Bridge()
