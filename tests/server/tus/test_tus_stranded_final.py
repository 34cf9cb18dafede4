"""A final (concatenated) upload whose completion a server crash cut is finished by the
server when it starts again (``recovery.finish_stranded_finals``), and the client's retry
of the creation whose answer it lost is answered with that final. Two real apps, one
after the other, on the same data folder."""

from __future__ import annotations

import asyncio
import hashlib
import time

from aiohttp.test_utils import TestClient

from toolbox_uploader.server import keys
from toolbox_uploader.server.app import create_app
from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.storage import Storage, new_id
from toolbox_uploader.server.tus.complete import upload_store
from toolbox_uploader.server.tus.headers import parse_metadata
from toolbox_uploader.server.tus.store import FINAL, Upload


async def _stored(client: TestClient, headers: dict[str, str], file_id: str) -> dict | None:
    """The file's record once it is stored, waiting up to 5 s for it."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        resp = await client.get(f"/api/v1/files/{file_id}", headers=headers)
        if resp.status == 200:
            return await resp.json()
        await asyncio.sleep(0.05)
    return None


async def test_a_final_cut_by_a_crash_is_finished_at_start_and_its_retry_answered(
        aiohttp_client, tus_config: ServerConfig, make_tus) -> None:
    first = await aiohttp_client(create_app(tus_config))
    tus = make_tus(first, first.app[keys.DEFAULT_TOKEN])
    data = tus.text(9000)
    parts = []
    for piece in (data[:4000], data[4000:]):
        url = await tus.create(len(piece), {}, Upload_Concat="partial")
        await tus.patch(url, 0, piece)
        parts.append(url)
    # As a crash mid-completion leaves it: the final's row, receiving, a half-joined copy.
    meta = {"filename": "joined.txt"}
    owner = first.app[keys.ACCOUNTS].all()[0].id
    final = Upload(new_id(), owner, len(data), 0, parse_metadata(tus.metadata(meta)), kind=FINAL,
                   parts=[tus.upload_id(u) for u in parts])
    upload_store(first.app).insert(final)
    Storage(tus_config.data_dir).upload_path(final.id).write_bytes(data[:100])
    await first.close()

    second = await aiohttp_client(create_app(tus_config))
    tus = make_tus(second, second.app[keys.DEFAULT_TOKEN])
    record = await _stored(second, tus.headers(), final.id)
    assert record is not None, "the stranded final was not finished"
    assert record["sha256"] == hashlib.sha256(data).hexdigest()
    for url in parts:
        await tus.head(url, expect=404)
    resp = await second.post(tus.TUS, headers=tus.headers({
        "Upload-Concat": "final;" + " ".join(parts), "Upload-Metadata": tus.metadata(meta)}))
    assert resp.status == 201, await resp.text()
    assert tus.upload_id(resp.headers["Location"]) == final.id
    head = await tus.head(resp.headers["Location"])
    assert head.headers["Upload-Offset"] == str(len(data))
