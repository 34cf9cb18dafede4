"""An ``Expect`` the server does not know is a 417 with the JSON error, on every route.

aiohttp checks ``Expect`` before any middleware runs, so its plain-text
``Unknown Expect: …`` answer used to be the one error (apart from the HTTP parser's own)
that did not have the shape ``{"error", "message"}``; ``100-continue`` still works.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient

from toolbox_uploader.server import keys
from toolbox_uploader.server.app import create_app
from toolbox_uploader.server.config import ServerConfig


async def _exchange(client: TestClient, request: bytes) -> tuple[str, dict[str, str], bytes]:
    """One request on its own connection: status line, headers, body (by Content-Length)."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(5):
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            while head.startswith("HTTP/1.1 100 "):  # the interim answer, then the real one
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            status, *lines = head.strip().split("\r\n")
            headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
    finally:
        writer.close()
    return status, headers, body


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Awaitable[TestClient]], server_config: ServerConfig
) -> TestClient:
    return await aiohttp_client(create_app(server_config))


@pytest.mark.parametrize("method, path", [
    ("GET", "/healthz"), ("POST", "/no/such/route"), ("POST", "/api/v1/storage/tus/"),
    ("POST", "/api/v1/files/upload"), ("GET", "/api/v1/files"),
])
async def test_an_unknown_expectation_is_a_json_417(
    client: TestClient, method: str, path: str
) -> None:
    request = (f"{method} {path} HTTP/1.1\r\nHost: x\r\nExpect: 999-something\r\n"
               "Content-Length: 0\r\n\r\n").encode()
    status, headers, body = await _exchange(client, request)
    assert status.startswith("HTTP/1.1 417 "), status
    assert headers["content-type"].startswith("application/json")
    error = json.loads(body)
    assert error["error"] == "expectation_failed"
    assert "999-something" in error["message"]
    if "/tus/" in path:
        assert headers["tus-resumable"] == "1.0.0"


async def test_100_continue_still_lets_an_upload_through(client: TestClient) -> None:
    token = client.app[keys.DEFAULT_TOKEN]
    data = b"A line of plain text for the worksheet.\n" * 4
    request = (
        "POST /api/v1/storage/tus/ HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
        f"Authorization: Bearer {token}\r\nTus-Resumable: 1.0.0\r\n"
        f"Upload-Length: {len(data)}\r\nUpload-Metadata: filename bm90ZXMudHh0\r\n"
        "Content-Type: application/offset+octet-stream\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode() + data
    status, headers, _ = await _exchange(client, request)
    assert status.startswith("HTTP/1.1 201 "), status
    assert headers["upload-offset"] == str(len(data))
