"""A pause, a cancel or a lost sign-in while a file is being verified, and then the check
fails: the state table has no way from verifying to paused or cancelled, and the item was
left in "verifying" for good (the command's state change raised), the queue never idle.

The server's check of the file at the end (``GET /api/v1/files/{id}``) is held by a small
proxy in front of the real server until the test has given its command, then answered
with a 503 (busy) or a 401 (the token was revoked meanwhile)."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.engine.engine_support import item, random_file, server_files, sha256, wait_for
from toolbox_uploader.core.engine import Engine
from toolbox_uploader.core.loop_thread import LoopThread
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import ServerHandle

S = ItemState
MakeEngine = Callable[..., Engine]
_FILE_RECORD = re.compile(r"^/api/v1/files/[^/]+$")
_HOP = {"transfer-encoding", "content-length", "connection", "content-encoding", "keep-alive"}


class HeldCheckProxy:
    """Forwards everything to the server, except the first check of a stored file: that
    one waits for ``release`` and is answered with ``status``."""

    def __init__(self, target: str, status: int) -> None:
        self.target = target
        self.status = status
        self.held = threading.Event()
        self.release = threading.Event()
        self._thread = LoopThread("held-check-proxy")
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    def start(self) -> HeldCheckProxy:
        self._thread.start(self._startup, 10)
        return self

    async def _startup(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession(auto_decompress=False)

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        if (request.method == "GET" and _FILE_RECORD.match(request.path)
                and not request.query and not self.held.is_set()):
            self.held.set()
            for _ in range(400):  # at most 20 s
                if self.release.is_set():
                    break
                await asyncio.sleep(0.05)
            return web.json_response({"error": "held"}, status=self.status)
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        body = await request.read()
        async with self._session.request(request.method, self.target + request.path_qs,
                                         headers=headers, data=body,
                                         allow_redirects=False) as answer:
            data = await answer.read()
            out = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP}
            return web.Response(status=answer.status, headers=out, body=data)

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._session is not None:
                await self._session.close()
            if self._runner is not None:
                await self._runner.cleanup()

        self.release.set()
        self._thread.stop(shutdown, 10)


@pytest.fixture(params=[503, 401], ids=["busy", "signed-out"])
def proxy(request: pytest.FixtureRequest, live_server: ServerHandle) -> Iterator[HeldCheckProxy]:
    held = HeldCheckProxy(live_server.url, int(request.param)).start()
    try:
        yield held
    finally:
        held.stop()


def _after_commands(engine: Engine) -> None:
    """Return once the commands given so far have run (they run in order on its loop)."""
    ran = threading.Event()
    unsubscribe = engine.subscribe(lambda _batch: ran.set())
    assert ran.wait(10)
    unsubscribe()


def _verifying(engine: Engine, proxy: HeldCheckProxy, path: Path) -> int:
    engine.add_paths([path], category="temporary")
    assert proxy.held.wait(30), engine.snapshot()
    snap = item(engine, path.name)
    assert snap is not None and snap.state is S.VERIFYING, snap
    return snap.id


@pytest.mark.parametrize("command", ["pause", "cancel"])
def test_a_command_while_verifying_then_a_failed_check_leaves_no_item_stuck(
        make_engine: MakeEngine, live_server: ServerHandle, proxy: HeldCheckProxy,
        tmp_path: Path, command: str) -> None:
    video = random_file(tmp_path / "assembly.bin", 12_000_000)  # hashed as sent: checked after
    engine = make_engine(server_url=proxy.url, token=live_server.token)
    item_id = _verifying(engine, proxy, video)
    getattr(engine, command)([item_id])
    _after_commands(engine)
    proxy.release.set()

    def settled() -> bool:
        snap = item(engine, video.name)
        return snap is not None and snap.state is not S.VERIFYING and engine.wait_idle(0.05)

    wait_for(settled, 20, describe=engine.snapshot)
    snap = item(engine, video.name)
    assert snap is not None
    if command == "pause":  # the teacher's pause wins over the failed check
        assert snap.state is S.PAUSED
        engine.resume([item_id])
    elif proxy.status == 401:  # the sign-in is asked for; the file waits for it
        assert snap.state is S.PAUSED and snap.reason is not None
        assert snap.reason.code == "sign_in_needed"
        engine.set_server(proxy.url, None, live_server.token)  # signed in again
    # A cancel comes too late for a file the server holds whole: it is finished.
    assert engine.wait_idle(30), engine.snapshot()
    done = item(engine, video.name)
    assert done is not None and done.state is S.DONE, done
    (stored,) = server_files(live_server.url, live_server.token)
    assert stored["sha256"] == sha256(video)


def test_a_check_refused_for_the_sign_in_waits_for_it(make_engine: MakeEngine,
                                                     live_server: ServerHandle,
                                                     tmp_path: Path) -> None:
    """No command at all: the token stops working just as the file is checked."""
    held = HeldCheckProxy(live_server.url, 401).start()
    try:
        video = random_file(tmp_path / "assembly.bin", 12_000_000)
        engine = make_engine(server_url=held.url, token=live_server.token)
        _verifying(engine, held, video)
        held.release.set()
        wait_for(lambda: (s := item(engine, video.name)) is not None
                 and s.state is S.PAUSED and engine.wait_idle(0.05), 20,
                 describe=engine.snapshot)
        engine.set_server(held.url, None, live_server.token)
        assert engine.wait_idle(30), engine.snapshot()
        assert item(engine, video.name).state is S.DONE  # type: ignore[union-attr]
        assert len(server_files(live_server.url, live_server.token)) == 1
    finally:
        held.stop()
