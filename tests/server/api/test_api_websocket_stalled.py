"""A progress WebSocket whose client never reads is cut once a send has waited on it for
the idle timeout (``tus_idle_timeout``), or when it ends with frames still unsent.

Its sends blocked for good: aiohttp has no send timeout, the kernel probes a shut window
forever, and closing waits for the unsent bytes. Each such socket kept its handler, its
subscription, ~160 KB of queued frames and megabytes of kernel buffer, even after the
upload ended: any client could grow the server's memory by opening them."""

from __future__ import annotations

import asyncio
import base64
import socket
import time
from collections.abc import AsyncIterator

import pytest
from _api_support import Api

from toolbox_uploader.server import keys

#: Padding for progress messages, so a few hundred fill the socket's buffers.
BULK = "x" * 8192


def _connections(api: Api) -> list[int]:
    """What the server still has to send, on each of its connections."""
    server = api.client.server.runner.server
    assert server is not None
    return [handler.transport.get_write_buffer_size()
            for handler in server.connections if handler.transport is not None]


@pytest.fixture
async def sleeper(api: Api) -> AsyncIterator[tuple[socket.socket, str]]:
    """A progress WebSocket of a fresh upload, opened on a raw socket that never reads."""
    api.app[keys.CONFIG].options["tus_idle_timeout"] = 0.5
    resp = await api.client.post("/api/v1/storage/tus/", headers={
        **api.headers, "Tus-Resumable": "1.0.0", "Upload-Length": "100000000",
        "Upload-Metadata": "filename " + base64.b64encode(b"film.txt").decode()})
    assert resp.status == 201, await resp.text()
    upload_id = resp.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (api.client.host, api.client.port))
    await loop.sock_sendall(sock, (
        f"GET /ws/upload/{upload_id}?token={api.token} HTTP/1.1\r\nHost: x\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").encode())
    deadline = time.monotonic() + 3
    while len(_connections(api)) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert len(_connections(api)) == 2
    try:
        yield sock, upload_id
    finally:
        sock.close()


async def _until(condition, seconds: float, publish=None) -> bool:
    """Wait (publishing, if given) until ``condition()``; bounded by ``seconds``."""
    deadline, n = time.monotonic() + seconds, 0
    while not condition() and time.monotonic() < deadline:
        if publish is None:
            await asyncio.sleep(0.02)
            continue
        publish(n)
        n += 1
        if n % 5 == 0:
            await asyncio.sleep(0)
    return condition()


async def test_a_subscriber_that_never_reads_is_cut_while_bytes_arrive(
        api: Api, sleeper: tuple[socket.socket, str]) -> None:
    hub, (_, upload_id) = api.app[keys.PROGRESS], sleeper
    # An upload that keeps going: its progress fills the kernel's buffers, then aiohttp's.
    assert await _until(lambda: len(_connections(api)) == 1, 4.5,
                        lambda n: hub.publish(upload_id, n, 100_000_000, message=BULK))


async def test_a_stream_that_ends_with_frames_unsent_is_cut(
        api: Api, sleeper: tuple[socket.socket, str]) -> None:
    hub, (_, upload_id) = api.app[keys.PROGRESS], sleeper
    assert await _until(lambda: max(_connections(api)) > 0, 3,
                        lambda n: hub.publish(upload_id, n, 100_000_000, message=BULK))
    hub.publish(upload_id, 100_000_000, 100_000_000, "completed")
    assert await _until(lambda: len(_connections(api)) == 1, 3)
