"""The client takes any 2xx to a creation or a PATCH, as tus-js-client and tuspy do.

A site's hooks on its tus server (@tus/server's ``onUploadFinish``) may answer with 200 and
a body where the spec says 201 or 204; the upload is there all the same.
"""

from __future__ import annotations

import os
from pathlib import Path

from aiohttp import web

from tests.support.scripted_tus import ScriptedTus
from toolbox_uploader.core.hashing import HashState
from toolbox_uploader.core.strategy import MIB, ChunkSizer
from toolbox_uploader.core.tus_client import TusClient


async def test_a_200_to_the_creation_and_the_patches_is_success(
    aiohttp_server, tmp_path: Path
) -> None:
    server = ScriptedTus(tmp_path / "store")
    server.directory.mkdir()

    async def handler(request: web.Request) -> web.StreamResponse:
        response = await server.handle(request)
        if request.method in ("POST", "PATCH") and response.status in (201, 204):
            assert isinstance(response, web.Response)
            response.set_status(200)
            response.text = '{"stored": true}'
        return response

    app = web.Application(client_max_size=8 * MIB)
    app.router.add_route("*", "/files/", handler)
    app.router.add_route("*", "/files/{upload_id}", handler)
    running = await aiohttp_server(app)
    content = os.urandom(2 * MIB + 5)
    source = tmp_path / "lesson.bin"
    source.write_bytes(content)
    async with TusClient(str(running.make_url("/files/"))) as client:
        url, offset = await client.create(length=len(content), metadata={"filename": "x"})
        assert offset == 0
        final = await client.upload_file(
            url, source, offset=0, length=len(content), hasher=HashState(),
            on_progress=lambda _: None,
            chunk_sizer=ChunkSizer(initial=MIB, minimum=MIB, maximum=MIB))
    assert final == len(content)
    assert server.data(url.rsplit("/", 1)[-1]) == content
