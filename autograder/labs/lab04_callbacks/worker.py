"""The callback worker: the learner's class, run inside the sandbox, answering the grader.

Started by :class:`~.sandboxed.SandboxedClient` as::

    python -m kerascourse.autograder.labs.lab04_callbacks.worker SOURCE.py CLASS_NAME

Why its own process: the exported source is the learner's code, so it runs only here,
behind the sandbox, with :data:`~.local.PRELUDE`'s imports and nothing of the grader's.
The worker loads the class, then serves the grader's requests (``new``, ``hook``,
``state``) over its stdin/stdout (:mod:`.wire`) through the same
:class:`~.local.LocalClient` the notebook uses, fetching and setting weights from the
grader's model on demand.

No other module imports this one (so ``python -m`` runs it fresh, without runpy's
"found in sys.modules" warning in the worker's log). Importing it imports no Keras.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from kerascourse.autograder.labs.lab04_callbacks.local import (
    PRELUDE,
    SOURCE_NAME,
    LocalClient,
    ModelProxy,
    describe_error,
)
from kerascourse.autograder.labs.lab04_callbacks.wire import BridgeError, Wire

__all__ = ["serve"]


def _load_class(path: str, class_name: str) -> type:
    import keras

    source = Path(path).read_text(encoding="utf-8")
    namespace: dict[str, Any] = {"__name__": "submission_callback"}
    exec(compile(PRELUDE, "<prelude>", "exec"), namespace)  # noqa: S102 - our own imports
    try:
        code = compile(source, SOURCE_NAME, "exec")
        exec(code, namespace)  # noqa: S102 - the learner's code, inside the sandbox
    except Exception as exc:  # noqa: BLE001 - the learner's error, reported
        error = describe_error(exc, f"running {SOURCE_NAME}")
        msg = (
            f"{error}. The exported cell must run on its own: keep only imports and the "
            "class in it (math, np, keras and layers are available)."
        )
        raise BridgeError(msg) from None
    cls = namespace.get(class_name)
    if not (isinstance(cls, type) and issubclass(cls, keras.callbacks.Callback)):
        msg = f"{SOURCE_NAME} defines no class {class_name}(keras.callbacks.Callback)"
        raise BridgeError(msg)
    return cls


def serve(path: str, class_name: str) -> int:
    """The worker: load the class, then answer the grader until it closes the pipe."""
    wire = Wire(os.dup(0), os.dup(1))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # input() gets EOF
    os.dup2(2, 1)  # print() goes to the log, never into the protocol
    try:
        cls = _load_class(path, class_name)
    except BridgeError as err:
        wire.send({"op": "failed", "error": str(err)})
        return 0
    wire.send({"op": "ready"})

    def fetch() -> list[Any]:
        wire.send({"op": "get_weights"})
        _, arrays = wire.receive(None)
        return arrays

    def put(arrays: list[Any]) -> None:
        wire.send({"op": "set_weights"}, arrays)
        reply, _ = wire.receive(None)
        if reply.get("op") != "ok":
            raise ValueError(reply.get("error", "weights refused"))

    client = LocalClient(cls, ModelProxy(fetch, put))
    while True:
        try:
            msg, _ = wire.receive(None)
        except EOFError:
            return 0
        reply: dict[str, Any] = {"op": "done"}
        try:
            if msg["op"] == "new":
                client.new(msg["kwargs"], None)
            elif msg["op"] == "hook":
                reply["stop"] = client.hook(msg["name"], msg["epoch"], msg["logs"], msg["stop"])
            elif msg["op"] == "state":
                reply["value"] = client.state(msg["attribute"])
        except BridgeError as err:
            reply["error"] = str(err)
        wire.send(reply)


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1], sys.argv[2]))
