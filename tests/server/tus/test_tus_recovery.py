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


async def test_finished_partials_are_left_whole_by_a_restart(
        aiohttp_client, tus_config: ServerConfig, make_tus) -> None:
    """A finished partial waits, receiving, for its final upload: not a crash's leftover."""
    first = await aiohttp_client(create_app(tus_config))
    tus = make_tus(first, first.app[keys.DEFAULT_TOKEN])
    data = tus.text(9000)
    partials = []
    for piece in (data[:4500], data[4500:]):
        url = await tus.create(len(piece), {}, Upload_Concat="partial")
        await tus.patch(url, 0, piece)
        partials.append(url)
    await first.close()

    second = await aiohttp_client(create_app(tus_config))
    tus = make_tus(second, second.app[keys.DEFAULT_TOKEN])
    for url in partials:
        assert (await tus.head(url)).headers["Upload-Offset"] == "4500"
    meta = tus.metadata({"filename": "joined.txt",
                         "sha256": hashlib.sha256(data).hexdigest()})
    resp = await second.post(tus.TUS, headers=tus.headers({
        "Upload-Concat": "final;" + " ".join(partials), "Upload-Metadata": meta}))
    assert resp.status == 201, await resp.text()
    final = tus.upload_id(resp.headers["Location"])
    assert Storage(tus_config.data_dir).file_path(final).exists()


async def test_part_files_that_disagree_with_their_rows_are_reported_as_they_are(
        aiohttp_client, tus_config: ServerConfig, make_tus) -> None:
    """After a restart HEAD tells what each part file really holds (cut short, lost,
    or longer than confirmed), and each upload completes from there."""
    first = await aiohttp_client(create_app(tus_config))
    tus = make_tus(first, first.app[keys.DEFAULT_TOKEN])
    data = tus.text(20_000)
    urls = []
    for _ in range(3):
        urls.append(await tus.create(len(data)))
        await tus.patch(urls[-1], 0, data[:10_000])
    await first.close()
    storage = Storage(tus_config.data_dir)
    shorter, missing, longer = (storage.upload_path(tus.upload_id(u)) for u in urls)
    with open(shorter, "r+b") as part:
        part.truncate(4_000)  # a power cut lost what the page cache held
    missing.unlink()  # a clean-up of the data folder
    with open(longer, "ab") as part:
        part.write(b"never confirmed")  # written, then the server died before the commit

    second = await aiohttp_client(create_app(tus_config))
    tus = make_tus(second, second.app[keys.DEFAULT_TOKEN])
    for url, expected in zip(urls, (4_000, 0, 10_000), strict=True):
        assert (await tus.head(url)).headers["Upload-Offset"] == str(expected)
        await tus.patch(url, expected, data[expected:])
        resp = await second.get(f"/api/v1/files/{tus.upload_id(url)}", headers=tus.headers())
        assert (await resp.json())["sha256"] == hashlib.sha256(data).hexdigest()
