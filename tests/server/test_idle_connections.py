"""Connections that never finish a request head are closed; flowing bodies are not."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.embedded import EmbeddedServer, ServerHandle

LIMIT = 0.5  # seconds for a request head (the default is a minute)


@pytest.fixture
def strict_server(server_config: ServerConfig) -> Iterator[ServerHandle]:
    server_config.options["idle_connection_timeout"] = LIMIT
    server = EmbeddedServer(server_config)
    try:
        yield server.start()
    finally:
        server.stop()


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """Did the server close ``sock`` (EOF, or a reset) before ``seconds``?"""
    sock.settimeout(0.1)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if sock.recv(4096) == b"":
                return True
        except TimeoutError:
            continue
        except ConnectionError:
            return True
    return False


@pytest.mark.parametrize("sent", [b"", b"GET /healthz HT", b"GET /healthz HTTP/1.1\r\nHost: x\r\n"])
def test_an_unfinished_request_head_is_closed(strict_server: ServerHandle, sent: bytes) -> None:
    parts = urlsplit(strict_server.url)
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.sendall(sent)
        try:
            for _ in range(3):  # a drip of header lines does not keep it open
                time.sleep(LIMIT / 2)
                if sent.endswith(b"\r\n"):  # (more bytes on a half line would be a 400)
                    sock.sendall(b"X-Drip: 1\r\n")
        except ConnectionError:  # closed already, while dripping
            return
        assert _closed_within(sock, 5 * LIMIT + 2)


def test_a_body_flowing_longer_than_the_limit_is_received(strict_server: ServerHandle) -> None:
    headers = {"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {strict_server.token}"}
    data = b"slow but steady\n" * 64
    tus = f"{strict_server.url}/api/v1/storage/tus/"
    created = httpx.post(tus, headers={**headers, "Upload-Length": str(len(data))})
    location = created.headers["Location"]

    def body() -> Iterator[bytes]:
        for start in range(0, len(data), 256):  # 4 pieces over ~3 × the limit
            yield data[start:start + 256]
            time.sleep(LIMIT)

    resp = httpx.patch(location, content=body(), timeout=20, headers={
        **headers, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0",
        "Content-Length": str(len(data))})
    assert resp.status_code == 204, resp.text
