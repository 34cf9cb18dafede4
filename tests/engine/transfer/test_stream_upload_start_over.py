"""``upload -`` starting over once the server lost the upload: what a Ctrl+C in the middle
of that second creation leaves on the server. The scripted tus server on loopback, which
loses the first upload at its first PATCH and holds its answer to the second creation."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

import pytest
from aiohttp import web

from tests.support.scripted_tus import ScriptedTus
from toolbox_uploader.core.stream_upload import stream_upload


class _Losing:
    """Forgets the first upload when it is first PATCHed (it answers 404, as a server that
    expired it would), and keeps the answer to the second creation until ``release``."""

    def __init__(self, server: ScriptedTus) -> None:
        self.server = server
        self.creations = 0
        self.second_created = asyncio.Event()
        self.release = asyncio.Event()
        self._lost = False

    async def handle(self, request: web.Request) -> web.StreamResponse:
        server = self.server
        upload = request.match_info.get("upload_id", "")
        if request.method == "PATCH" and not self._lost and upload in server.lengths:
            self._lost = True
            server.path(upload).unlink()
            del server.lengths[upload]
        response = await server.handle(request)
        if request.method == "POST":
            self.creations += 1
            if self.creations == 2:
                self.second_created.set()
                await asyncio.wait_for(self.release.wait(), 10)
        return response


async def test_ctrl_c_during_the_second_creation_deletes_the_second_upload(
        aiohttp_server, tmp_path: Path) -> None:
    server = ScriptedTus(tmp_path / "scripted")
    server.directory.mkdir()
    losing = _Losing(server)
    app = web.Application(client_max_size=1024**3)
    app.router.add_route("*", "/files/", losing.handle)
    app.router.add_route("*", "/files/{upload_id}", losing.handle)
    running = await aiohttp_server(app)
    streaming = asyncio.ensure_future(stream_upload(
        io.BytesIO(os.urandom(200_000)), server_url=None,
        endpoint=str(running.make_url("/files/")), token=None, name="rec.bin",
        category="temporary", give_up_after=10))
    try:
        await asyncio.wait_for(losing.second_created.wait(), 10)
        streaming.cancel()  # Ctrl+C while the server is creating the second upload
        await asyncio.sleep(0.05)
        losing.release.set()  # its answer, with the address, arrives after the Ctrl+C
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(streaming, 10)
    finally:
        losing.release.set()
        if not streaming.done():
            streaming.cancel()
    assert losing.creations == 2
    # Neither the lost upload nor the second one stays there, unfinished, until it expires.
    assert server.lengths == {}
    assert not any(server.directory.iterdir())
