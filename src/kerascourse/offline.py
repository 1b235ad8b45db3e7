"""A network guard for kernels: allow loopback, refuse everything else.

Why: the course promises to run offline on bundled data. The notebook tests start every
kernel with this guard installed, so a cell that quietly downloads something (a dataset,
ImageNet weights) fails in CI instead of passing on a machine that happens to be online.
The guard is Python-level (``socket``), which is what urllib, requests, pooch and
``keras.utils.get_file`` use; loopback stays open because Jupyter kernels talk to their
client over 127.0.0.1. The graders' sandbox uses an OS-level block (bubblewrap
``--unshare-net``) where the platform allows it.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

OFFLINE_ENV = "KERASCOURSE_OFFLINE"


class NetworkBlockedError(ConnectionRefusedError):
    """Raised when code in an offline kernel tries to reach a non-loopback address.

    A subclass of ``ConnectionError`` so libraries treat it as "network unreachable" and
    take their offline path (``kerascourse.datasets.load_online`` names the bundled
    alternative).
    """


_originals: dict[str, Any] = {}


def _is_loopback(host: Any) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode()
    host = str(host)
    if host in {"localhost", "localhost.localdomain", ""}:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(host: Any, port: Any = None) -> NetworkBlockedError:
    target = f"{host}:{port}" if port is not None else str(host)
    msg = (
        f"Network access is disabled here ({OFFLINE_ENV}=1): refused a connection to {target}. "
        "Everything in the course runs offline on bundled data: see "
        "kerascourse.datasets.available(). To allow downloads, unset "
        f"{OFFLINE_ENV} and restart the kernel."
    )
    return NetworkBlockedError(msg)


def block_network() -> None:
    """Refuse non-loopback connections and DNS look-ups in this process. Idempotent."""
    if _originals:
        return
    _originals["connect"] = socket.socket.connect
    _originals["connect_ex"] = socket.socket.connect_ex
    _originals["getaddrinfo"] = socket.getaddrinfo
    _originals["create_connection"] = socket.create_connection

    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            raise _refuse(address[0], address[1])
        return _originals["connect"](self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            raise _refuse(address[0], address[1])
        return _originals["connect_ex"](self, address)

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback(host):
            raise _refuse(host, port)
        return _originals["getaddrinfo"](host, port, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo
    # create_connection resolves through the module-level getaddrinfo we replaced.


def unblock_network() -> None:
    """Undo :func:`block_network` (tests use it; kernels never do)."""
    if not _originals:
        return
    socket.socket.connect = _originals.pop("connect")  # type: ignore[method-assign]
    socket.socket.connect_ex = _originals.pop("connect_ex")  # type: ignore[method-assign]
    socket.getaddrinfo = _originals.pop("getaddrinfo")
    _originals.pop("create_connection", None)


def is_blocked() -> bool:
    """True while the guard is installed in this process."""
    return bool(_originals)
