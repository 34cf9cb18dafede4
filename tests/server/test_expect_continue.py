"""``Expect: 100-continue``: a request refused from its head gets only its final answer.

aiohttp's default sends ``100 Continue`` before any check, so a PATCH with a wrong
offset or token, or a creation over ``Tus-Max-Size``, invited the client to send a body
the server then read only to drop. Now ``100 Continue`` comes when the handler starts
reading the body, and a refusal before that closes the connection.
"""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from toolbox_uploader.server.embedded import ServerHandle

TUS = "/api/v1/storage/tus/"
BODY_SIZE = 10 * 1024 * 1024  # announced, never sent unless invited


def _connect(server: ServerHandle) -> socket.socket:
    parts = urlsplit(server.url)
    assert parts.hostname is not None and parts.port is not None
    return socket.create_connection((parts.hostname, parts.port), timeout=5)


def _first_answer(sock: socket.socket, seconds: float = 5.0) -> bytes:
    """The first response head the server sends (interim or final), within ``seconds``."""
    received = b""
    deadline = time.monotonic() + seconds
    while b"\r\n\r\n" not in received and time.monotonic() < deadline:
        data = sock.recv(65536)
        if not data:
            break
        received += data
    head, _, _ = received.partition(b"\r\n\r\n")
    return head


def _create(server: ServerHandle, length: int) -> str:
    response = httpx.post(server.url + TUS, headers={
        "Authorization": f"Bearer {server.token}", "Tus-Resumable": "1.0.0",
        "Upload-Length": str(length), "Upload-Metadata": "filename bm90ZXMudHh0",
    })
    assert response.status_code == 201, response.text
    return urlsplit(response.headers["Location"]).path


def _offset(server: ServerHandle, path: str) -> int:
    response = httpx.head(server.url + path, headers={
        "Authorization": f"Bearer {server.token}", "Tus-Resumable": "1.0.0",
    })
    return int(response.headers["Upload-Offset"])


def _patch_head(path: str, token: str, offset: int, length: int) -> bytes:
    return (
        f"PATCH {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        f"Tus-Resumable: 1.0.0\r\nUpload-Offset: {offset}\r\n"
        "Content-Type: application/offset+octet-stream\r\n"
        f"Content-Length: {length}\r\nExpect: 100-continue\r\n\r\n"
    ).encode()


@pytest.mark.parametrize("case", ["wrong_offset", "wrong_token"])
def test_a_patch_refused_by_its_head_is_not_invited(
    live_server: ServerHandle, case: str
) -> None:
    path = _create(live_server, BODY_SIZE)
    token = live_server.token if case == "wrong_offset" else "x" * 32
    offset = 5 if case == "wrong_offset" else 0
    with _connect(live_server) as sock:
        sock.sendall(_patch_head(path, token, offset, BODY_SIZE))
        head = _first_answer(sock).decode("latin-1")
    status = head.split("\r\n", 1)[0]
    expected = "409" if case == "wrong_offset" else "401"
    assert status.startswith(f"HTTP/1.1 {expected} "), head  # not "100 Continue"
    assert "\r\nConnection: close" in head, head
    assert _offset(live_server, path) == 0


def test_a_creation_over_the_size_limit_is_not_invited(live_server: ServerHandle) -> None:
    too_big = 9 * 1024**3
    request = (
        f"POST {TUS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {live_server.token}\r\n"
        f"Tus-Resumable: 1.0.0\r\nUpload-Length: {too_big}\r\n"
        "Upload-Metadata: filename bm90ZXMudHh0\r\n"
        "Content-Type: application/offset+octet-stream\r\n"
        f"Content-Length: {BODY_SIZE}\r\nExpect: 100-continue\r\n\r\n"
    ).encode()
    with _connect(live_server) as sock:
        sock.sendall(request)
        head = _first_answer(sock).decode("latin-1")
    assert head.startswith("HTTP/1.1 413 "), head


def test_a_direct_upload_with_a_wrong_token_is_not_invited(live_server: ServerHandle) -> None:
    request = (
        "POST /api/v1/files/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {BODY_SIZE}\r\nExpect: 100-continue\r\n\r\n"
    ).encode()
    with _connect(live_server) as sock:
        sock.sendall(request)
        head = _first_answer(sock).decode("latin-1")
    assert head.startswith("HTTP/1.1 401 "), head
    assert "\r\nConnection: close" in head, head


def test_a_sound_patch_is_invited_and_stored(live_server: ServerHandle) -> None:
    data = b"A line of plain text for the worksheet.\n" * 100
    path = _create(live_server, len(data))
    with _connect(live_server) as sock:
        sock.sendall(_patch_head(path, live_server.token, 0, len(data)))
        assert _first_answer(sock).startswith(b"HTTP/1.1 100 ")
        sock.sendall(data)
        head = _first_answer(sock).decode("latin-1")
    assert head.startswith("HTTP/1.1 204 "), head
    assert f"\r\nUpload-Offset: {len(data)}" in head
    assert _offset(live_server, path) == len(data)
