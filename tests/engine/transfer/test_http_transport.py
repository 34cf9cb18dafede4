"""The engine's httpx-over-aiohttp transport against real sockets on loopback.

Each peer here is a small asyncio server that misbehaves in one way (never reads, closes
mid-body, never answers); the errors must come out as the httpx errors the engine's retry
rules are written for, and an exception from the caller's own body must come out as itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from aiohttp import web

from toolbox_uploader.core.http_transport import new_http_client
from toolbox_uploader.core.transfer_errors import ErrorKind, classify_exception

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def raw_peer(handler: Handler) -> AsyncIterator[str]:
    """A TCP server on a free loopback port running ``handler`` for each connection."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2)


async def read_head(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Reads whatever comes until the client goes away."""
    with contextlib.suppress(Exception):
        await read_head(reader)
        while await reader.read(65536):
            pass


def recording_proxy(targets: list[str]) -> Handler:
    """An HTTP proxy that notes each request's target and answers 204 itself."""
    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await read_head(reader)
        targets.append(head.split(b" ")[1].decode())
        writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()
    return proxy


def endless(pieces: int, pause: float, started: asyncio.Event | None = None
            ) -> AsyncIterator[bytes]:
    """A long body that takes its time, as a file read over a slow disk would."""
    async def body() -> AsyncIterator[bytes]:
        for _ in range(pieces):
            if started is not None:
                started.set()
            await asyncio.sleep(pause)
            yield b"x" * 65536
    return body()


def pieces(count: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(count):
            yield b"x" * size
    return body()


async def test_round_trip_streams_the_body_and_reuses_the_connection() -> None:
    seen: list[tuple[int, bytes]] = []
    peers: set[tuple[str, int]] = set()

    async def echo(request: web.Request) -> web.Response:
        data = await request.read()
        seen.append((len(data), request.headers.get("X-Tag", "").encode()))
        assert request.transport is not None
        peers.add(request.transport.get_extra_info("peername"))
        return web.json_response({"got": len(data)}, status=201, headers={"Location": "/u/1"})

    app = web.Application()
    app.router.add_post("/up", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with new_http_client() as client:
            for tag in ("a", "b", "c"):
                request = client.build_request(
                    "POST", f"http://127.0.0.1:{port}/up", content=pieces(5),
                    headers={"Content-Length": str(5 * 64 * 1024), "X-Tag": tag})
                response = await client.send(request)
                assert response.status_code == 201
                assert response.json() == {"got": 5 * 64 * 1024}
                assert response.headers["Location"] == "/u/1"
    finally:
        await runner.cleanup()
    assert seen == [(5 * 64 * 1024, b"a"), (5 * 64 * 1024, b"b"), (5 * 64 * 1024, b"c")]
    assert len(peers) == 1  # one keep-alive connection served all three


async def test_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with new_http_client() as client:
        with pytest.raises(httpx.ConnectError) as caught:
            await client.get(f"http://127.0.0.1:{port}/")
    assert classify_exception(caught.value).kind is ErrorKind.OFFLINE


async def test_connection_closed_mid_body_is_transient_not_offline() -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        await reader.read(1000)
        writer.transport.abort()  # RST while the client is still sending

    async with raw_peer(cut) as url, new_http_client() as client:
        request = client.build_request("PATCH", url, content=pieces(200),
                                       headers={"Content-Length": str(200 * 64 * 1024)})
        with pytest.raises(httpx.TransportError) as caught:
            await client.send(request)
    assert not isinstance(caught.value, httpx.ConnectError | httpx.ConnectTimeout)
    assert classify_exception(caught.value).kind is ErrorKind.TRANSIENT


async def test_no_answer_is_a_read_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        await asyncio.sleep(10)

    async with raw_peer(silent) as url, new_http_client(httpx.Timeout(0.5)) as client:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            await client.get(url)
    assert time.monotonic() - started < 5


async def test_peer_that_stops_reading_is_a_write_timeout() -> None:
    async def deaf(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        await asyncio.sleep(15)  # reads nothing more: the socket buffers fill up

    async with raw_peer(deaf) as url, new_http_client(httpx.Timeout(30, write=0.5)) as client:
        size = 4096 * 64 * 1024  # 256 MiB offered: far more than loopback buffers hold
        request = client.build_request("PATCH", url, content=pieces(4096),
                                       headers={"Content-Length": str(size)})
        started = time.monotonic()
        with pytest.raises(httpx.WriteTimeout):
            await client.send(request)
    assert time.monotonic() - started < 10
    assert classify_exception(httpx.WriteTimeout("x")).kind is ErrorKind.TRANSIENT


class BodyStopped(Exception):
    pass


async def test_exception_from_the_body_comes_out_as_itself() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        raise BodyStopped("paused by the teacher")

    async with raw_peer(sink) as url, new_http_client() as client:
        request = client.build_request("PATCH", url, content=body(),
                                       headers={"Content-Length": "5000"})
        with pytest.raises(BodyStopped, match="paused by the teacher"):
            await client.send(request)


async def test_proxy_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    targets: list[str] = []
    async with raw_peer(recording_proxy(targets)) as proxy_url:
        monkeypatch.setenv("http_proxy", proxy_url)
        monkeypatch.setenv("no_proxy", "")
        async with new_http_client() as client:
            response = await client.get("http://school.example/api/v1/health")
    assert response.status_code == 204
    assert targets == ["http://school.example/api/v1/health"]


async def test_an_early_refusal_lets_the_caller_close_its_body() -> None:
    """A server that answers before reading the body (413): the answer comes back, and
    the caller's generator can be closed at once (aiohttp's writer has let go of it)."""

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        body = b'{"error": "too_large"}'
        writer.write(b"HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        await asyncio.sleep(2)
        writer.close()

    body = endless(10_000, 0.001)
    async with raw_peer(refuse) as url, new_http_client() as client:
        request = client.build_request("PATCH", url, content=body,
                                       headers={"Content-Length": str(10_000 * 65536)})
        response = await client.send(request)
        await body.aclose()  # raises RuntimeError if the writer were still inside it
    assert response.status_code == 413
    assert response.json() == {"error": "too_large"}


async def test_cancelling_mid_body_lets_the_caller_close_its_body() -> None:
    inside = asyncio.Event()
    body = endless(10_000, 0.01, inside)
    async with raw_peer(sink) as url, new_http_client() as client:
        request = client.build_request("PATCH", url, content=body,
                                       headers={"Content-Length": str(10_000 * 65536)})
        sending = asyncio.ensure_future(client.send(request))
        await asyncio.wait_for(inside.wait(), 5)
        sending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sending
        await body.aclose()


@pytest.mark.parametrize("variable", ["http_proxy", "all_proxy"])
async def test_proxy_without_a_scheme_and_all_proxy_as_httpx_reads_them(
        monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    targets: list[str] = []
    async with raw_peer(recording_proxy(targets)) as proxy_url:
        for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy",
                     "NO_PROXY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv(variable, proxy_url.removeprefix("http://").rstrip("/"))
        async with new_http_client() as client:
            response = await client.get("http://school.example/api/v1/health")
    assert response.status_code == 204
    assert targets == ["http://school.example/api/v1/health"]


async def test_waiting_for_a_free_connection_is_not_a_connect_timeout() -> None:
    """More requests than connections: the extra one waits its turn (httpcore's pool
    timeout, reported as "server unreachable", would stop an upload that only queued)."""

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while True:
                await read_head(reader)
                await asyncio.sleep(0.6)
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()

    timeout = httpx.Timeout(10, pool=0.2)
    async with raw_peer(slow) as url, new_http_client(timeout, max_connections=1) as client:
        first, second = await asyncio.gather(client.get(url), client.get(url))
    assert (first.status_code, second.status_code) == (204, 204)
