"""A small file sent whole with its creation: held in memory, stored with one row."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time

from toolbox_uploader.server import keys
from toolbox_uploader.server.storage import Storage
from toolbox_uploader.server.tus.whole import WHOLE_MAX


async def post_whole(tus, payload: bytes, metadata: dict[str, str], **headers: str):
    return await tus.client.post(tus.TUS, data=payload, headers=tus.headers({
        "Upload-Length": str(len(payload)), "Content-Type": tus.OCTET,
        "Upload-Metadata": tus.metadata(metadata)}, **headers))


async def open_post(tus, total: int, metadata: dict[str, str]):
    """Start a creation-with-upload on a raw socket; the test sends (part of) the body."""
    return await tus.open_raw("POST", tus.TUS, total, {
        "Upload-Length": str(total), "Upload-Metadata": tus.metadata(metadata)})


def uploads(tus) -> list:
    return tus.client.app[keys.DATABASE].fetchall("SELECT * FROM uploads")


async def wait_for_uploads(tus, count: int, timeout: float = 10.0) -> list:
    deadline = time.monotonic() + timeout
    while len(rows := uploads(tus)) != count and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return rows


async def test_a_whole_small_file_is_stored_at_once(tus, data_dir) -> None:
    payload = tus.text(100_000)
    sha256 = hashlib.sha256(payload).hexdigest()
    resp = await post_whole(tus, payload, {"filename": "sheet.txt", "sha256": sha256})
    assert resp.status == 201, await resp.text()
    assert resp.headers["Upload-Offset"] == str(len(payload))
    upload_id = tus.upload_id(resp.headers["Location"])
    storage = Storage(data_dir)
    assert storage.file_path(upload_id).read_bytes() == payload
    assert not storage.upload_path(upload_id).exists()
    (row,) = uploads(tus)
    assert (row["id"], row["status"], row["offset"]) == (upload_id, "completed", len(payload))
    record = tus.client.app[keys.DATABASE].fetchone(
        "SELECT sha256, size FROM files WHERE id = ?", (upload_id,))
    assert (record["sha256"], record["size"]) == (sha256, len(payload))
    head = await tus.head(resp.headers["Location"])
    assert head.headers["Upload-Offset"] == str(len(payload))


async def test_no_row_until_a_small_body_is_whole_but_a_big_one_has_one_at_once(tus) -> None:
    _reader, small = await open_post(tus, 1000, {"filename": "a.txt"})
    small.write(tus.text(10))
    await small.drain()
    _reader, big = await open_post(tus, WHOLE_MAX + 1, {"filename": "b.txt"})
    big.write(tus.text(10))
    await big.drain()
    rows = await wait_for_uploads(tus, 1)
    await asyncio.sleep(0.1)
    assert [r["length"] for r in uploads(tus)] == [WHOLE_MAX + 1]
    assert [r["length"] for r in rows] == [WHOLE_MAX + 1]
    for writer in (small, big):
        writer.close()


async def test_a_whole_body_cut_by_its_client_leaves_nothing(tus, data_dir) -> None:
    """The client died before the answer that holds the upload's address: nobody can resume
    it, so it keeps neither bytes nor a share of the quota (see ``tus/creation.py``)."""
    payload = tus.text(50_000)
    metadata = {"filename": "cut.txt", "sha256": hashlib.sha256(payload).hexdigest()}
    _reader, writer = await open_post(tus, len(payload), metadata)
    writer.write(payload[:20_000])
    await writer.drain()
    await asyncio.sleep(0.1)
    writer.close()  # the client dies mid-body
    await asyncio.sleep(1.0)  # the moment in which a kept upload's row would be written
    assert await wait_for_uploads(tus, 0) == []
    assert not any(Storage(data_dir).uploads_dir.iterdir())


async def test_a_wrong_upload_checksum_keeps_nothing_and_the_upload_stays(tus, data_dir) -> None:
    payload = tus.text(4000)
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    resp = await post_whole(tus, payload, {"filename": "c.txt"},
                            Upload_Checksum=f"sha256 {wrong}")
    assert resp.status == 460
    assert (await resp.json())["error"] == "checksum_mismatch"
    url = tus.rel(resp.headers["Location"])
    assert (await tus.head(url)).headers["Upload-Offset"] == "0"
    good = base64.b64encode(hashlib.sha256(payload).digest()).decode()
    await tus.patch(url, 0, payload, Upload_Checksum=f"sha256 {good}")
    assert Storage(data_dir).file_path(tus.upload_id(url)).read_bytes() == payload


async def test_a_whole_file_that_fails_validation_is_422_then_gone(tus, data_dir) -> None:
    payload = b"\x7fELF\x02\x01\x01" + os.urandom(4000)  # not teaching material
    resp = await post_whole(tus, payload, {"filename": "tool.pdf"})
    assert resp.status == 422
    error = (await resp.json())["error"]
    url = tus.rel(resp.headers["Location"])
    upload_id = tus.upload_id(url)
    storage = Storage(data_dir)
    assert not storage.file_path(upload_id).exists()
    assert not storage.upload_path(upload_id).exists()
    await tus.head(url, expect=410)
    resp = await tus.patch(url, len(payload), b"", expect=410)
    assert (await resp.json())["error"] == error  # the reason is kept


async def test_a_declared_sha256_that_does_not_match_fails_the_upload(tus) -> None:
    payload = tus.text(3000)
    resp = await post_whole(tus, payload, {"filename": "d.txt", "sha256": "0" * 64})
    assert resp.status == 400
    assert (await resp.json())["error"] == "checksum_mismatch"
    await tus.head(resp.headers["Location"], expect=410)
    assert tus.client.app[keys.DATABASE].fetchone("SELECT COUNT(*) FROM files")[0] == 0
