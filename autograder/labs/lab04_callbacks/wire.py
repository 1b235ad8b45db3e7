"""The wire between the grader and the callback worker: length-prefixed messages.

Why a format of our own and not pickle: the worker runs the learner's code, so nothing it
sends may be able to run code in the grader. A message is a 4-byte length, a JSON header
and its arrays as ``.npy`` bytes, loaded with ``allow_pickle=False``; headers and payloads
have size limits and every read a deadline (the grader's side), so a broken or hostile
worker ends in a :class:`BridgeError` or a timeout, never in the grader's process.

Importing this module imports no Keras.
"""

from __future__ import annotations

import io
import json
import os
import select
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_ARRAY_BYTES", "MAX_HEADER_BYTES", "BridgeError", "Wire"]

#: Largest JSON header accepted from the worker.
MAX_HEADER_BYTES = 1_000_000
#: Largest weights payload accepted from the worker, per message.
MAX_ARRAY_BYTES = 64 * 1024**2


class BridgeError(RuntimeError):
    """The learner's callback failed, hung or broke the protocol; the message says which."""


@dataclass
class Wire:
    """Length-prefixed messages: a JSON header, then its arrays as ``.npy`` bytes.

    One end of a pipe pair: the grader reads the worker's stdout and writes its stdin;
    the worker the other way round.
    """

    read_fd: int
    write_fd: int

    def send(self, header: dict[str, Any], arrays: Sequence[Any] = ()) -> None:
        """Write one message: `header` (JSON data) and `arrays` (saved as ``.npy``)."""
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
        """Read one message by `deadline` (``time.monotonic()``; None: wait).

        Raises:
            BridgeError: an oversized header or payload, a header that is not JSON, or
                arrays that are not plain ``.npy`` (a pickle is refused, never loaded).
            TimeoutError: nothing complete arrived by the deadline.
            EOFError: the other end closed the pipe.
        """
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
