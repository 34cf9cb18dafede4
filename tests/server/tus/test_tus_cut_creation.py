"""A creation-with-upload cut off by its client leaves no orphan holding the quota.

The answer to the POST carries the only copy of the upload's address; a client that went
away before it (a pause of a small file mid-request, a dropped connection) cannot resume
that upload, and each one used to reserve its declared length until it expired. A body
that merely stalls while the client still listens keeps its upload: the client gets the
error with the Location and carries on from there."""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.embedded import EmbeddedServer, ServerHandle


def _quota(server: ServerHandle) -> dict:
    return httpx.get(f"{server.url}/api/v1/quota",
                     headers={"Authorization": f"Bearer {server.token}"}).json()


def _head(server: ServerHandle, length: int) -> bytes:
    parts = urlsplit(server.url)
    meta = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}"
                    for k, v in (("filename", "plan.txt"), ("category", "temporary")))
    return (f"POST /api/v1/storage/tus/ HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Authorization: Bearer {server.token}\r\nTus-Resumable: 1.0.0\r\n"
            f"Upload-Length: {length}\r\nUpload-Metadata: {meta}\r\n"
            "Content-Type: application/offset+octet-stream\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


@pytest.mark.parametrize("length", [900_000, 8_000_000])  # held in memory / streamed
def test_a_client_gone_mid_body_leaves_nothing_reserved(live_server: ServerHandle,
                                                        length: int) -> None:
    parts = urlsplit(live_server.url)
    for _ in range(3):  # a pause and resume, three times over
        with socket.create_connection((parts.hostname, parts.port)) as sock:
            sock.sendall(_head(live_server, length) + b"x" * (length // 3))
            time.sleep(0.2)
    # The server notices each cut when it reads the end of the connection; a kept upload
    # would reserve its length then. Give it that moment before looking (and then a while
    # for the last one to be discarded).
    time.sleep(1.0)
    deadline = time.monotonic() + 5
    while _quota(live_server)["reserved"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _quota(live_server)["reserved"] == 0


@pytest.fixture
def impatient_server(server_config: ServerConfig) -> Iterator[ServerHandle]:
    """Ends a body that sends nothing for half a second (the default waits far longer)."""
    server_config.options["tus_idle_timeout"] = 0.5
    server = EmbeddedServer(server_config)
    try:
        yield server.start()
    finally:
        server.stop()


def test_a_stalled_body_whose_client_still_listens_stays_resumable(
        impatient_server: ServerHandle) -> None:
    """The server's idle timeout ends the request; its answer reaches the client."""
    length = 8_000_000
    parts = urlsplit(impatient_server.url)
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.settimeout(30)
        sock.sendall(_head(impatient_server, length) + b"x" * 1_000_000)
        answer = b""  # nothing more is sent; the socket stays open, reading
        while b"\r\n\r\n" not in answer and (piece := sock.recv(65536)):
            answer += piece
    head = answer.split(b"\r\n\r\n", 1)[0].decode()
    location = next(line.split(":", 1)[1].strip() for line in head.split("\r\n")
                    if line.lower().startswith("location:"))
    status = httpx.head(location, headers={"Tus-Resumable": "1.0.0",
                                           "Authorization": f"Bearer {impatient_server.token}"})
    assert status.status_code == 200
    assert int(status.headers["Upload-Offset"]) == 1_000_000
