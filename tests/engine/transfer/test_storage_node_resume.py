"""An upload a tus server places on another host (a separate storage node) under the same
path as its endpoint resumes there after a restart, not on the endpoint's host.

A front on 127.0.0.1 creates uploads and answers their ``Location`` on 127.0.0.2 (another
port, the same ``/files/`` path); only the storage node serves them, so a resume sent to
the front gets 404. The real engine, stopped mid-upload and started again on the same
queue file; both nodes are the scripted tus server, on their own thread and loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from tests.engine.engine_support import item, random_file, wait_for
from tests.support.scripted_tus import ScriptedTus
from toolbox_uploader.core.loop_thread import LoopThread
from toolbox_uploader.core.session_store import (
    AbandonedUpload,
    rebase_upload_url,
    relative_upload_path,
)
from toolbox_uploader.core.states import ItemState

MIB = 1024 * 1024


class _Nodes:
    """The front (creations only) and the storage node, sharing one upload store."""

    def __init__(self, directory: Path) -> None:
        self.tus = ScriptedTus(directory)
        self.tus.directory.mkdir()
        self.front = self.storage = ""
        self.front_asked: list[str] = []  # methods the front got for an upload
        self._thread = LoopThread("storage-node-test")
        self._runners: list[web.AppRunner] = []

    async def _front(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("POST", "OPTIONS"):
            self.front_asked.append(request.method)
            await request.read()
            return web.Response(status=404, headers={"Tus-Resumable": "1.0.0"})
        response = await self.tus.handle(request)
        if "Location" in response.headers:
            response.headers["Location"] = self.storage + response.headers["Location"]
        return response

    async def _serve(self, handler: Handler, host: str) -> str:
        app = web.Application(client_max_size=64 * MIB)
        app.router.add_route("*", "/files/", handler)
        app.router.add_route("*", "/files/{upload_id}", handler)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, host, 0)
        await site.start()
        self._runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://{host}:{port}"

    async def _start(self) -> None:
        self.storage = await self._serve(self.tus.handle, "127.0.0.2")
        self.front = await self._serve(self._front, "127.0.0.1") + "/files/"

    async def _stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()

    def __enter__(self) -> _Nodes:
        self._thread.start(self._start, timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        loop = self._thread.loop
        assert loop is not None
        asyncio.run_coroutine_threadsafe(self._stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[_Nodes]:
    with _Nodes(tmp_path / "stored") as running:
        yield running


def test_an_upload_on_a_storage_node_resumes_there_after_a_restart(
        make_engine, nodes: _Nodes, tmp_path: Path) -> None:
    video = random_file(tmp_path / "lesson.bin", 11 * MIB)  # sent by PATCH
    store = tmp_path / "queue.sqlite3"
    # Slow enough to stop it after its first 1 MiB PATCH, well before the end.
    first = make_engine(tus_endpoint=nodes.front, store_path=store,
                        bandwidth_limit=2 * MIB, max_chunk_size=MIB)
    first.add_paths([video], category="temporary")
    wait_for(lambda: sum(n for m, _h, n in nodes.tus.requests if m == "PATCH") >= MIB, 10,
             describe=lambda: [(m, n) for m, _h, n in nodes.tus.requests])
    first.stop()
    (upload,) = nodes.tus.lengths
    kept = nodes.tus.path(upload).stat().st_size
    assert 0 < kept < video.stat().st_size

    started = time.monotonic()
    second = make_engine(tus_endpoint=nodes.front, store_path=store)
    done = wait_for(lambda: (s := item(second, video.name)) and s.state is ItemState.DONE
                    and s, 10, describe=second.snapshot)
    assert time.monotonic() - started < 10
    assert nodes.front_asked == []  # the upload was never looked for on the front
    assert nodes.tus.count("POST") == 1  # resumed, not started over
    assert list(nodes.tus.lengths) == [upload]
    assert nodes.tus.data(upload) == video.read_bytes()
    assert done.upload_url == f"{nodes.storage}/files/{upload}"


def test_only_the_same_scheme_host_and_port_is_stored_relative() -> None:
    endpoint = "http://school.example/files/"
    assert relative_upload_path(endpoint, "http://school.example:80/files/a1") == "a1"
    assert relative_upload_path(endpoint, "HTTP://School.example/files/a1?k=v") == "a1?k=v"
    for elsewhere in ("http://store-2.school.example/files/a1",
                      "https://school.example/files/a1",
                      "http://school.example:8080/files/a1",
                      "http://school.example/other/a1"):
        assert relative_upload_path(endpoint, elsewhere) is None, elsewhere
    # What is kept for an upload elsewhere is its own address, used as it is.
    assert AbandonedUpload(1, "http://store-2.school.example/files/a1", None).url_on(
        endpoint) is None  # never rebased onto the endpoint's host
    assert rebase_upload_url("http://127.0.0.1:5002/files", "a1") == (
        "http://127.0.0.1:5002/files/a1")
