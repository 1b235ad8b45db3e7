"""Run a learner's Keras callback against a training run it cannot touch.

Why a bridge: a callback *is* code, and the trusted grader never runs student code in its
own process. So the grader trains the model itself and calls the learner's callback
across a process boundary: a grader-side :class:`Bridge` callback forwards each epoch-level
hook (``on_train_begin``, ``on_epoch_begin``, ``on_epoch_end``, ``on_train_end``) to a
*client*, and the learner's callback sees a :class:`ModelProxy` as ``self.model``: the
three things an early-stopping callback needs (``stop_training``, ``get_weights()``,
``set_weights()``) and nothing else. Only decisions cross back: the stop flag, weights
(checked against the model's shapes) and the callback's decision log as JSON data.

Two clients, the same protocol and messages:

- :class:`LocalClient` calls the class in this process (the learner's self-check in the
  notebook; the kernel is theirs anyway);
- :class:`SandboxedClient` runs the exported source in a subprocess inside
  :mod:`kerascourse.autograder.sandbox` (network off, secrets hidden, resource limits),
  speaking length-prefixed JSON with weights as ``.npy`` bytes over its stdin/stdout.
  Nothing from it is unpickled (``allow_pickle=False``), every read has a deadline, and
  the learner's ``print`` goes to a log, never into the protocol.

Worker command (started by :class:`SandboxedClient`)::

    python -m kerascourse.autograder.callback_bridge SOURCE.py CLASS_NAME

Importing this module imports no Keras.
"""

from __future__ import annotations

import io
import json
import math
import os
import select
import struct
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "HOOKS",
    "BridgeError",
    "LocalClient",
    "ModelProxy",
    "SandboxedClient",
    "apply_weights",
    "make_bridge",
]

#: The hooks forwarded to the learner's callback (epoch level; batch hooks are not).
HOOKS = ("on_train_begin", "on_epoch_begin", "on_epoch_end", "on_train_end")
#: Largest JSON header accepted from the worker.
MAX_HEADER_BYTES = 1_000_000
#: Largest weights payload accepted from the worker, per message.
MAX_ARRAY_BYTES = 64 * 1024**2
#: Where the exported source is run from (its name appears in the learner's tracebacks).
SOURCE_NAME = "submission_callback.py"
#: Names the exported cell may use without importing them (the lab's set-up cell's).
PRELUDE = "import math\nimport numpy as np\nimport keras\nfrom keras import layers\n"


class BridgeError(RuntimeError):
    """The learner's callback failed, hung or broke the protocol; the message says which."""


# --------------------------------------------------------------------------- model side


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


def _describe_error(exc: BaseException, where: str) -> str:
    """The learner's error in one line, with the line of their source that raised it."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == SOURCE_NAME]
    line = f" ({SOURCE_NAME} line {frames[-1].lineno}: {frames[-1].line})" if frames else ""
    return f"{where} raised {type(exc).__name__}: {str(exc)[:300]}{line}"


# --------------------------------------------------------------------------- clients


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
            raise BridgeError(_describe_error(exc, f"{self.cls.__name__}({args})")) from None
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
            raise BridgeError(_describe_error(exc, where)) from None
        return self.proxy.stop_training

    def state(self, attribute: str) -> Any:
        """An attribute of the callback (its decision log) as JSON data; None if missing."""
        return jsonable(getattr(self.callback, attribute, None))

    def close(self) -> None:
        """Nothing to stop in this process."""


@dataclass
class _Wire:
    """Length-prefixed messages: a JSON header, then its arrays as ``.npy`` bytes."""

    read_fd: int
    write_fd: int

    def send(self, header: dict[str, Any], arrays: Sequence[Any] = ()) -> None:
        import numpy as np

        blobs = []
        for array in arrays:
            buf = io.BytesIO()
            np.save(buf, np.asarray(array), allow_pickle=False)
            blobs.append(buf.getvalue())
        head = json.dumps({**header, "arrays": [len(b) for b in blobs]}).encode()
        data = struct.pack(">I", len(head)) + head + b"".join(blobs)
        view = memoryview(data)
        while view:
            view = view[os.write(self.write_fd, view) :]

    def receive(self, deadline: float | None) -> tuple[dict[str, Any], list[Any]]:
        import numpy as np

        (size,) = struct.unpack(">I", self._exact(4, deadline))
        if size > MAX_HEADER_BYTES:
            msg = f"the callback process sent a {size:,}-byte message header"
            raise BridgeError(msg)
        try:
            header = json.loads(self._exact(size, deadline))
            sizes = [int(n) for n in header.get("arrays", [])]
        except (ValueError, TypeError, AttributeError):
            msg = "the callback process sent a message that is not JSON"
            raise BridgeError(msg) from None
        if any(n < 0 for n in sizes) or sum(sizes) > MAX_ARRAY_BYTES:
            msg = f"the callback process sent {sum(sizes):,} bytes of weights"
            raise BridgeError(msg)
        arrays = []
        for n in sizes:
            try:
                arrays.append(np.load(io.BytesIO(self._exact(n, deadline)), allow_pickle=False))
            except ValueError:
                msg = "the callback process sent arrays that are not .npy"
                raise BridgeError(msg) from None
        return header, arrays

    def _exact(self, n: int, deadline: float | None) -> bytes:
        chunks, left = [], n
        while left:
            if deadline is not None:
                wait = deadline - time.monotonic()
                ready, _, _ = select.select([self.read_fd], [], [], max(wait, 0))
                if not ready:
                    raise TimeoutError
            chunk = os.read(self.read_fd, min(left, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)


class SandboxedClient:
    """Runs the exported source in a sandboxed subprocess; the grader's side of the wire.

    Args:
        source: the exported ``submission_callback.py`` text.
        class_name: the class to instantiate.
        sandbox: ``(info, policy, secrets)`` for :func:`kerascourse.autograder.sandbox.start`.
        hook_timeout: seconds each hook (and each instantiation) may take. Defaults to `20`.
        start_timeout: seconds for the worker to start (importing Keras). Defaults to `180`.
    """

    def __init__(
        self,
        source: str,
        class_name: str,
        sandbox: tuple[Any, Any, Sequence[Path]],
        *,
        hook_timeout: float = 20.0,
        start_timeout: float = 180.0,
    ) -> None:
        from . import sandbox as sb

        self.hook_timeout = hook_timeout
        self.model: Any = None
        self.broken: str | None = None
        self.process: Any = None
        self.workdir = Path(tempfile.mkdtemp(prefix="kc-callback-"))
        self.log_path = Path(tempfile.mkdtemp(prefix="kc-callback-log-")) / "worker.log"
        (self.workdir / SOURCE_NAME).write_text(source, encoding="utf-8")
        for name in ("home", "tmp"):
            (self.workdir / name).mkdir()
        info, policy, secrets = sandbox
        argv = [sys.executable, "-m", "kerascourse.autograder.callback_bridge"]
        argv += [str(self.workdir / SOURCE_NAME), class_name]
        try:
            self.process = sb.start(
                argv,
                rw_dir=self.workdir,
                cwd=self.workdir,
                env=_worker_env(self.workdir),
                log_path=self.log_path,
                policy=policy,
                info=info,
                secrets=secrets,
            )
        except OSError as err:  # bubblewrap or the interpreter could not start
            self.close()
            msg = f"the callback process could not start: {err}"
            raise BridgeError(msg) from None
        proc = self.process.proc
        self.wire = _Wire(proc.stdout.fileno(), proc.stdin.fileno())
        header, _ = self._receive(start_timeout, "starting")
        if header.get("op") != "ready":
            self._break(header.get("error") or "the callback process did not start")

    # -- protocol -----------------------------------------------------------------------

    def _break(self, reason: str) -> None:
        self.broken = reason
        self.close()
        raise BridgeError(reason)

    def _receive(self, timeout: float, during: str) -> tuple[dict[str, Any], list[Any]]:
        if self.broken:
            raise BridgeError(self.broken)
        try:
            return self.wire.receive(time.monotonic() + timeout)
        except TimeoutError:
            self._break(f"the callback did not answer within {timeout:g} s ({during})")
        except (EOFError, OSError):
            tail = self.log_tail()
            self._break(f"the callback process ended ({during}){': ' + tail if tail else ''}")
        except BridgeError as err:
            self._break(str(err))
        msg = "unreachable"
        raise AssertionError(msg)

    def _call(self, header: dict[str, Any], during: str) -> dict[str, Any]:
        """Send one request, then serve the worker's weight requests until it answers."""
        self._send(header, (), during)
        deadline = time.monotonic() + self.hook_timeout
        while True:
            reply, arrays = self._receive(max(deadline - time.monotonic(), 0), during)
            op = reply.get("op")
            if op == "get_weights":
                self._send({"op": "weights"}, self.model.get_weights(), during)
            elif op == "set_weights":
                try:
                    apply_weights(self.model, arrays)
                except ValueError as err:
                    self._send({"op": "refused", "error": str(err)}, (), during)
                else:
                    self._send({"op": "ok"}, (), during)
            elif op == "done":
                if reply.get("error"):
                    raise BridgeError(str(reply["error"])[:1000])
                return reply
            else:
                self._break(f"the callback process sent an unknown message {str(op)[:40]!r}")

    def _send(self, header: dict[str, Any], arrays: Sequence[Any], during: str) -> None:
        if self.broken:
            raise BridgeError(self.broken)
        try:
            self.wire.send(header, arrays)
        except OSError:
            self._break(f"the callback process ended ({during})")

    def new(self, kwargs: dict[str, Any], model: Any) -> None:
        """A fresh instance of the class in the worker, watching `model`."""
        self.model = model
        self._call({"op": "new", "kwargs": kwargs}, "creating the callback")

    def attach(self, model: Any) -> None:
        """Serve the next run's model to the same instance."""
        self.model = model

    def hook(self, name: str, epoch: int | None, logs: dict[str, float], stop: bool) -> bool:
        """Call one hook in the worker; return its ``self.model.stop_training``."""
        during = name + (f", epoch {epoch}" if epoch is not None else "")
        msg = {"op": "hook", "name": name, "epoch": epoch, "logs": logs, "stop": stop}
        return bool(self._call(msg, during).get("stop"))

    def state(self, attribute: str) -> Any:
        """An attribute of the callback (its decision log), as the worker's JSON data."""
        return self._call({"op": "state", "attribute": attribute}, "reading " + attribute)["value"]

    def log_tail(self, chars: int = 600) -> str:
        """The end of what the learner's code printed (and the worker's own errors)."""
        try:
            return self.log_path.read_bytes()[-chars:].decode("utf-8", "replace").strip()
        except OSError:
            return ""

    def close(self) -> None:
        """Stop the worker (and everything it started); remove its folder."""
        import shutil

        if self.process is not None:
            self.process.stop()
            self.process = None
        shutil.rmtree(self.workdir, ignore_errors=True)
        shutil.rmtree(self.log_path.parent, ignore_errors=True)


def _worker_env(workdir: Path) -> dict[str, str]:
    """A clean environment: nothing pointing at the grader's files; TensorFlow quiet."""
    from kerascourse.runner import QUIET_TF_ENV

    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
        "HOME": str(workdir / "home"),
        "TMPDIR": str(workdir / "tmp"),
        "KERAS_HOME": str(workdir / "home" / ".keras"),
        "MPLCONFIGDIR": str(workdir / "home"),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "CUDA_VISIBLE_DEVICES": "-1",  # a callback needs no GPU
        "OMP_NUM_THREADS": "1",
        **QUIET_TF_ENV,
    }
    if "KERAS_BACKEND" in os.environ:
        env["KERAS_BACKEND"] = os.environ["KERAS_BACKEND"]
    return env


# --------------------------------------------------------------------------- the bridge


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


# --------------------------------------------------------------------------- the worker


def _load_class(path: str, class_name: str) -> type:
    import keras

    source = Path(path).read_text(encoding="utf-8")
    namespace: dict[str, Any] = {"__name__": "submission_callback"}
    exec(compile(PRELUDE, "<prelude>", "exec"), namespace)  # noqa: S102 - our own imports
    try:
        code = compile(source, SOURCE_NAME, "exec")
        exec(code, namespace)  # noqa: S102 - the learner's code, inside the sandbox
    except Exception as exc:  # noqa: BLE001 - the learner's error, reported
        error = _describe_error(exc, f"running {SOURCE_NAME}")
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
    wire = _Wire(os.dup(0), os.dup(1))
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
