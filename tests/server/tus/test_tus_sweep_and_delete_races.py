"""The expiry sweep and DELETE meeting an upload whose request is still running: a slow
PATCH on an upload about to expire, and a completion still validating its file."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from pathlib import Path

from toolbox_uploader.server import keys
from toolbox_uploader.server.app import create_app
from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.storage import Storage
from toolbox_uploader.server.tus.expiry import expire_uploads
from toolbox_uploader.server.tus.state import STATE
from toolbox_uploader.server.validation_hook import ValidationOutcome, default_validator


async def _wait(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_a_slow_patch_outlives_its_uploads_expiry(tus) -> None:
    app = tus.client.app
    data = tus.text(30_000)
    url = await tus.create(len(data))
    upload_id = tus.upload_id(url)
    reader, writer = await tus.open_raw("PATCH", url, len(data), {"Upload-Offset": "0"})
    writer.write(data[:1_000])
    await writer.drain()
    await _wait(lambda: app[STATE].busy(upload_id))
    # Its expiry passes while the body is still arriving: the sweep must leave it be.
    assert expire_uploads(app, now=time.time() + 2 * 24 * 3600) == 0
    writer.write(data[1_000:])
    await writer.drain()
    status = (await asyncio.wait_for(reader.readline(), 5)).split()[1]
    writer.close()
    assert status == b"204"
    resp = await tus.client.get(f"/api/v1/files/{upload_id}", headers=tus.headers())
    assert (await resp.json())["sha256"] == hashlib.sha256(data).hexdigest()


async def test_delete_and_the_sweep_during_a_completion_leave_the_file_whole(
        aiohttp_client, tus_config: ServerConfig, make_tus) -> None:
    entered, opened = threading.Event(), threading.Event()

    def gate(path: Path, category: str, filename: str) -> ValidationOutcome:
        entered.set()
        opened.wait(5)
        return default_validator(path, category, filename)

    tus_config.validator = gate
    client = await aiohttp_client(create_app(tus_config))
    tus = make_tus(client, client.app[keys.DEFAULT_TOKEN])
    data = tus.text(5_000)
    url = await tus.create(len(data))
    try:
        patching = asyncio.ensure_future(tus.patch(url, 0, data))
        await _wait(entered.is_set)
        resp = await client.delete(url, headers=tus.headers())
        assert resp.status == 423, await resp.text()
        assert expire_uploads(client.app, now=time.time() + 2 * 24 * 3600) == 0
    finally:
        opened.set()
    await asyncio.wait_for(patching, 5)
    stored = Storage(tus_config.data_dir).file_path(tus.upload_id(url))
    assert stored.read_bytes() == data
    resp = await client.delete(url, headers=tus.headers())  # only the tus record goes
    assert resp.status == 204 and stored.read_bytes() == data
