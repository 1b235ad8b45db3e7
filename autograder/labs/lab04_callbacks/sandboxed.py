"""The grader's side of the callback worker: the learner's source, run in the sandbox.

Why a subprocess: a callback *is* code, and the trusted grader never runs student code in
its own process. :class:`SandboxedClient` writes the exported source to a private folder,
starts the worker (:mod:`.worker`) inside :mod:`kerascourse.autograder.sandbox` (network
off, secrets hidden, resource limits) with a clean environment, and speaks :mod:`.wire`
messages with it over its stdin/stdout; the learner's ``print`` goes to a log, never into
the protocol. It answers the worker's weight requests from the grader's model, checked
against the model's shapes (:func:`.local.apply_weights`).

Importing this module imports no Keras.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kerascourse.autograder.labs.lab04_callbacks.local import SOURCE_NAME, apply_weights
from kerascourse.autograder.labs.lab04_callbacks.wire import BridgeError, Wire

__all__ = ["WORKER_MODULE", "SandboxedClient"]

#: The worker's module, started with ``python -m`` inside the sandbox.
WORKER_MODULE = "kerascourse.autograder.labs.lab04_callbacks.worker"


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
        from kerascourse.autograder import sandbox as sb

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
        argv = [sys.executable, "-m", WORKER_MODULE]
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
        self.wire = Wire(proc.stdout.fileno(), proc.stdin.fileno())
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
