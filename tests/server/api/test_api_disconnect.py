"""A client that goes away in the middle of a multipart upload leaves no traceback.

Run against the embedded server as the app runs it: there aiohttp does not cancel the
handler of a client that went away, the body read fails instead (pytest-aiohttp's test
server cancels, which would hide the problem).
"""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.embedded import ServerHandle

BOUNDARY = "bb"


def _file_part(name: str, filename: str, size: int) -> bytes:
    return (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\n\r\n').encode() + b"z" * size


def _field(name: str, value: str) -> bytes:
    return (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n").encode()


def _wait(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/files/upload", _field("category", "temporary") + _file_part("file", "a.bin",
                                                                          300_000)),
    ("/api/v1/files/upload/batch",
     _field("manifest", '[{"category": "temporary"}]') + _file_part("files", "b.bin", 300_000)),
])
def test_a_client_gone_mid_multipart_logs_no_error(
    live_server: ServerHandle, server_config: ServerConfig, caplog: pytest.LogCaptureFixture,
    path: str, body: bytes,
) -> None:
    tmp_dir = Path(server_config.data_dir) / "tmp"
    parts = urlsplit(live_server.url)
    head = (f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Authorization: Bearer {live_server.token}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {len(body) + 100_000}\r\n\r\n").encode()
    with caplog.at_level(logging.INFO), socket.create_connection(
            (parts.hostname, parts.port)) as sock:
        sock.sendall(head + body)
        assert _wait(lambda: any(tmp_dir.iterdir()))  # the file part is being received
    assert _wait(lambda: not any(tmp_dir.iterdir()))  # ...and cleaned up after the cut
    time.sleep(0.2)  # the log records follow the clean-up at once
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert not noisy, [r.getMessage() for r in noisy]
