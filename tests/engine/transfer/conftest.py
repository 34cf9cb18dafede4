"""Fixtures for the transfer layer's tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web

from tests.support.scripted_tus import ScriptedTus


@pytest.fixture
async def scripted_tus(aiohttp_server, tmp_path: Path) -> ScriptedTus:
    server = ScriptedTus(tmp_path / "scripted")
    server.directory.mkdir()
    app = web.Application(client_max_size=1024**3)
    app.router.add_route("*", "/files/", server.handle)
    app.router.add_route("*", "/files/{upload_id}", server.handle)
    running = await aiohttp_server(app)
    server.url = str(running.make_url("/files/"))
    return server
