"""The network guard refuses the internet and keeps loopback (Jupyter needs it)."""

from __future__ import annotations

import http.server
import re
import socket
import threading
import urllib.error
import urllib.request

import pytest

from kerascourse import offline


@pytest.fixture
def guarded():
    offline.block_network()
    yield
    offline.unblock_network()


def test_guard_refuses_a_public_host_with_the_fix(guarded):
    """Does a download fail fast with a message that says how to allow it?"""
    with pytest.raises(urllib.error.URLError, match=re.escape("unset KERASCOURSE_OFFLINE")):
        urllib.request.urlopen("http://example.com/", timeout=5)


def test_guard_refuses_raw_ip_connections(guarded):
    """Is a socket to a non-loopback IP refused before any packet is sent?"""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(offline.NetworkBlockedError, match=re.escape("8.8.8.8:53")):
        s.connect(("8.8.8.8", 53))
    s.close()


def test_guard_keeps_loopback_open(guarded):
    """Can code still talk to a server on 127.0.0.1 (kernels, local tests)?"""
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    port = server.server_address[1]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as resp:
        assert resp.status == 200
    server.server_close()


def test_unblock_restores_the_socket_module():
    """Does unblocking put the original functions back?"""
    original = socket.getaddrinfo
    offline.block_network()
    assert socket.getaddrinfo is not original
    assert offline.is_blocked()
    offline.unblock_network()
    assert socket.getaddrinfo is original
    assert not offline.is_blocked()
