"""Bytes straight onto a socket, for requests no HTTP client library would send."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit


def exchange(url: str, request: bytes, seconds: float = 5.0) -> bytes:
    """Send ``request`` to the server at ``url`` and read until it closes the connection
    (at most ``seconds``)."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    received = b""
    with socket.create_connection((parts.hostname, parts.port), timeout=seconds) as sock:
        sock.sendall(request)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                break
            if not data:
                break
            received += data
    return received
