"""A server that stopped between an upload's last byte and its completion asks for that
byte again when it starts, so the upload completes instead of looking finished for ever
(``tus/recovery.py``). Two real apps, one after the other, on the same data folder."""

from __future__ import annotations

import hashlib
import sqlite3

from toolbox_uploader.server import keys
from toolbox_uploader.server.app import DB_FILE, create_app
from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.storage import Storage


async def test_an_upload_full_but_not_completed_completes_after_a_restart(
        aiohttp_client, tus_config: ServerConfig, make_tus) -> None:
    first = await aiohttp_client(create_app(tus_config))
    tus = make_tus(first, first.app[keys.DEFAULT_TOKEN])
    data = tus.text(5000)
    url = await tus.create(len(data), {"filename": "notes.txt"})
    await tus.patch(url, 0, data[:-1])
    await first.close()
    # As a crash leaves it: the last byte written and committed, the completion never run.
    upload_id = tus.upload_id(url)
    with open(Storage(tus_config.data_dir).upload_path(upload_id), "ab") as part:
        part.write(data[-1:])
    with sqlite3.connect(tus_config.data_dir / DB_FILE) as db:
        db.execute("UPDATE uploads SET offset = ? WHERE id = ?", (len(data), upload_id))

    second = await aiohttp_client(create_app(tus_config))
    tus = make_tus(second, second.app[keys.DEFAULT_TOKEN])
    head = await tus.head(url)
    assert head.headers["Upload-Offset"] == str(len(data) - 1)  # not "finished"
    await tus.patch(url, len(data) - 1, data[-1:])
    resp = await second.get(f"/api/v1/files/{upload_id}", headers=tus.headers())
    assert resp.status == 200, await resp.text()
    record = await resp.json()
    assert record["sha256"] == hashlib.sha256(data).hexdigest() and record["size"] == len(data)
