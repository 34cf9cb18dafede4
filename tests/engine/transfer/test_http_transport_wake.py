"""After a wake-up (``HttpSession.woke``): connections from before the sleep are not used
again, a request whose connection carries nothing is ended within the grace, and one whose
connection still moves bytes goes on. Real sockets on loopback."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from toolbox_uploader.core.http_transport import HttpSession
from toolbox_uploader.core.transfer_errors import ErrorKind, classify_exception

GRACE = 0.5


@pytest.fixture
async def peer() -> AsyncIterator[tuple[str, list[tuple[str, int]]]]:
    """``/ok`` answers at once, ``/silent`` never (a dead link seen from the client),
    ``/slow`` reads its body slowly and then answers; the peer address of each request."""
    peers: list[tuple[str, int]] = []
    never = asyncio.Event()

    async def ok(request: web.Request) -> web.Response:
        assert request.transport is not None
        peers.append(request.transport.get_extra_info("peername"))
        return web.Response(status=204)

    async def silent(request: web.Request) -> web.Response:
        await never.wait()
        return web.Response(status=204)

    async def slow(request: web.Request) -> web.Response:
        while await request.content.read(32 * 1024):
            await asyncio.sleep(0.05)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/silent", silent)
    app.router.add_post("/slow", slow)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    # A small receive window, as a real link has: the client sees its bytes acknowledged
    # as the handler reads them (on loopback the kernel would take megabytes at once).
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    listener.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, listener)
    await site.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", peers
    finally:
        never.set()
        await runner.cleanup()


async def test_connections_from_before_the_sleep_are_not_used_again(
        peer: tuple[str, list[tuple[str, int]]]) -> None:
    url, peers = peer
    async with HttpSession() as session:
        assert (await session.request("GET", url + "/ok", headers={})).status_code == 204
        assert (await session.request("GET", url + "/ok", headers={})).status_code == 204
        assert peers[0] == peers[1]  # kept alive between requests
        session.woke(GRACE)
        assert (await session.request("GET", url + "/ok", headers={})).status_code == 204
    assert peers[2] != peers[0]  # a new connection after the wake-up


async def test_a_silent_request_ends_at_the_grace_and_a_moving_one_goes_on(
        peer: tuple[str, list[tuple[str, int]]]) -> None:
    url, _ = peer

    async def body() -> AsyncIterator[bytes]:
        for _ in range(32):  # 1 MiB taken at about 640 KiB/s: longer than the grace
            yield b"x" * 32 * 1024

    async with HttpSession(httpx.Timeout(30.0, connect=5.0)) as session:
        silent = asyncio.ensure_future(session.request("GET", url + "/silent", headers={}))
        moving = asyncio.ensure_future(session.send(session.build_request(
            "POST", url + "/slow", headers={"Content-Length": str(32 * 32 * 1024)},
            content=body())))
        await asyncio.sleep(0.3)  # both in flight
        started = time.monotonic()
        session.woke(GRACE)
        with pytest.raises(httpx.ReadTimeout) as caught:
            await asyncio.wait_for(silent, 5)
        assert time.monotonic() - started < GRACE + 1.0  # not the 30 s read timeout
        assert classify_exception(caught.value).kind is ErrorKind.TRANSIENT
        assert (await asyncio.wait_for(moving, 10)).status_code == 204
