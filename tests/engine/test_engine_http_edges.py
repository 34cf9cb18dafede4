"""Server answers the engine must respect: 429 + Retry-After, and a generic tus server."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.engine.engine_support import item, random_file, sha256, text_file, wait_for
from tests.support.tus_node import node_available, tus_node_server
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import ServerHandle

HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}


class RateLimitedFront:
    """A real HTTP front on loopback: the first upload creation gets 429 + Retry-After,
    everything else is forwarded to the real server."""

    def __init__(self, target: str, retry_after: int) -> None:
        self.target = target
        self.retry_after = retry_after
        self.creations: list[tuple[float, int]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.url = ""

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.method == "POST" and request.path.endswith("/tus/"):
            status = 429 if not self.creations else 201
            self.creations.append((time.monotonic(), status))
            if status == 429:
                return web.json_response(
                    {"error": "rate_limited", "message": "Too many uploads; slow down."},
                    status=429, headers={"Retry-After": str(self.retry_after)})
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        async with aiohttp.ClientSession() as session, session.request(
                request.method, self.target + request.path_qs, headers=headers,
                data=body) as upstream:
            payload = await upstream.read()
            out = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_HEADERS}
            return web.Response(status=upstream.status, body=payload, headers=out)

    async def _start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    def __enter__(self) -> RateLimitedFront:
        self._thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def test_429_retry_after_is_honoured(live_server: ServerHandle, tmp_path: Path,
                                     make_engine) -> None:
    path = text_file(tmp_path / "plan.txt", 6000)
    with RateLimitedFront(live_server.url, retry_after=2) as front:
        engine = make_engine(server_url=front.url, token=live_server.token)
        engine.add_paths([path])
        waiting = wait_for(lambda: (s := item(engine, "plan.txt")) and s.state is ItemState.FAILED
                           and s.next_attempt_at is not None and s, 10)
        assert waiting.retryable and waiting.attempts == 1
        assert waiting.next_attempt_at - time.time() > 1.0  # not before Retry-After
        wait_for(lambda: item(engine, "plan.txt").state is ItemState.DONE, 20)  # type: ignore[union-attr]
        (first, status1), (second, status2) = front.creations[:2]
        assert (status1, status2) == (429, 201)
        assert second - first >= 2.0


@pytest.mark.interop
@pytest.mark.skipif(not node_available(), reason="node and tests/interop/node_modules needed")
def test_engine_against_tus_node_server(tmp_path: Path, make_engine) -> None:
    small = text_file(tmp_path / "in" / "notes.txt", 20_000)
    chunked = random_file(tmp_path / "in" / "recording.bin", 12 * 1024 * 1024)
    doomed = random_file(tmp_path / "doomed.bin", 12 * 1024 * 1024)
    store = tmp_path / "tus-node"
    with tus_node_server(store) as endpoint:
        engine = make_engine(tus_endpoint=endpoint, max_chunk_size=2 * 1024 * 1024,
                                bandwidth_limit=12 * 1024 * 1024)
        engine.add_paths([small, chunked, doomed], category="temporary")
        wait_for(lambda: (s := item(engine, "doomed.bin")) and s.state is ItemState.UPLOADING
                 and s.bytes_sent > 2 * 1024 * 1024, 30)
        engine.cancel([item(engine, "doomed.bin").id])  # type: ignore[union-attr]
        assert engine.wait_idle(60)
        states = {s.display_name: s.state for s in engine.snapshot()}
        assert states == {"notes.txt": ItemState.DONE, "recording.bin": ItemState.DONE,
                          "doomed.bin": ItemState.CANCELLED}
        # @tus/file-store keeps each upload as a file named by its id (plus a .json).
        wait_for(lambda: len([p for p in store.iterdir() if p.suffix != ".json"]) == 2, 10)
        stored = sorted(sha256(p) for p in store.iterdir() if p.suffix != ".json")
        assert stored == sorted([sha256(small), sha256(chunked)])
