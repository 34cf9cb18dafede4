"""An account holds at most ``max_unfinished_uploads`` unfinished uploads at once.

A client that creates uploads and never finishes them (a bug, or on purpose) would fill
the database and the disk with empty uploads for a day each. Past the cap a creation is
answered 429 with ``Retry-After`` and a JSON reason; room comes back as uploads finish,
are deleted or expire. Uploads that complete in their creation request, other accounts,
and the final upload of a concatenation are not held back."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import time

import pytest

from tests.engine.engine_support import add_server_account
from toolbox_uploader.server import keys
from toolbox_uploader.server.app import create_app
from toolbox_uploader.server.config import ServerConfig

CAP = 3


@pytest.fixture
def tus_config(tus_config: ServerConfig) -> ServerConfig:
    tus_config.max_unfinished_uploads = CAP
    return tus_config


async def _refused(tus, **headers: str) -> dict:
    resp = await tus.client.post(tus.TUS, headers=tus.headers(
        {"Upload-Length": "100", "Upload-Metadata": tus.metadata({"filename": "x.txt"}),
         **headers}))
    assert resp.status == 429, await resp.text()
    assert resp.headers["Retry-After"] == "60"
    assert resp.headers["Tus-Resumable"] == "1.0.0"
    return await resp.json()


async def test_past_the_cap_a_creation_is_429_until_one_finishes(tus) -> None:
    urls = [await tus.create(100) for _ in range(CAP)]
    body = await _refused(tus)
    assert body["error"] == "too_many_unfinished_uploads"
    assert f"already has {CAP} unfinished uploads" in body["message"]
    assert await _refused(tus, Upload_Concat="partial")  # partial uploads count too
    # Nothing was created by the refusals: the existing uploads are untouched.
    db = tus.client.app[keys.DATABASE]
    assert db.fetchone("SELECT COUNT(*) FROM uploads")[0] == CAP

    await tus.patch(urls[0], 0, tus.text(100))  # finished: room for one more
    fourth = await tus.create(100)
    await _refused(tus)
    resp = await tus.client.delete(tus.rel(urls[1]), headers=tus.headers())
    assert resp.status == 204
    await tus.create(100)  # a deleted one makes room too
    for url in (urls[2], fourth):
        head = await tus.head(url)
        assert head.headers["Upload-Offset"] == "0"


async def test_an_upload_sent_whole_in_its_creation_is_not_held_back(tus) -> None:
    for _ in range(CAP):
        await tus.create(100)
    data = tus.text(2000)
    resp = await tus.client.post(tus.TUS, headers=tus.headers({
        "Upload-Length": str(len(data)), "Content-Type": tus.OCTET,
        "Upload-Metadata": tus.metadata({"filename": "register.txt"})}), data=data)
    assert resp.status == 201, await resp.text()
    assert resp.headers["Upload-Offset"] == str(len(data))


async def test_expired_uploads_do_not_count(tus) -> None:
    for _ in range(CAP):
        await tus.create(100)
    await _refused(tus)
    tus.client.app[keys.DATABASE].execute(
        "UPDATE uploads SET expires_at = ?", (time.time() - 1,))
    await tus.create(100)


async def test_each_account_has_its_own_cap(tus, make_tus, data_dir) -> None:
    for _ in range(CAP):
        await tus.create(100)
    await _refused(tus)
    other = make_tus(tus.client, add_server_account(data_dir, "second teacher"))
    await other.create(100)


async def test_the_final_upload_of_full_partials_is_never_held_back(tus) -> None:
    """The partial uploads fill the cap while they wait for their final: the final must
    still be accepted, or they could never become a file."""
    payload = tus.text(300)
    partials = [await tus.create(100, {}, Upload_Concat="partial") for _ in range(CAP)]
    await _refused(tus)
    for n, url in enumerate(partials):
        await tus.patch(url, 0, payload[n * 100:(n + 1) * 100])
    resp = await tus.client.post(tus.TUS, headers=tus.headers({
        "Upload-Concat": "final;" + " ".join(partials),
        "Upload-Metadata": tus.metadata({"filename": "joined.txt"})}))
    assert resp.status == 201, await resp.text()
    await tus.create(100)  # the partials are one file now: room again


async def test_whole_bodies_that_fail_do_not_pile_up_past_the_cap(tus) -> None:
    """A body sent whole that does not complete (wrong Upload-Checksum, cut short) becomes
    an ordinary resumable upload: it must count, or a client could hold any number of
    unfinished uploads by getting each creation's checksum wrong."""
    data = tus.text(500)
    wrong = "sha256 " + base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    for n in range(CAP + 3):
        resp = await tus.client.post(tus.TUS, headers=tus.headers({
            "Upload-Length": str(len(data)), "Content-Type": tus.OCTET,
            "Upload-Checksum": wrong,
            "Upload-Metadata": tus.metadata({"filename": "register.txt"})}), data=data)
        body = await resp.json()
        assert (resp.status, body["error"]) == (460, "checksum_mismatch")
        assert resp.headers["Tus-Resumable"] == "1.0.0"
        if n < CAP:  # kept (empty) and resumable: its Location answers HEAD
            head = await tus.head(resp.headers["Location"])
            assert head.headers["Upload-Offset"] == "0"
        else:  # nothing kept: no Location that would lead nowhere
            assert "Location" not in resp.headers
            assert "no upload was made to resume" in body["message"]
    db = tus.client.app[keys.DATABASE]
    assert db.fetchone("SELECT COUNT(*) FROM uploads WHERE status = 'receiving'")[0] == CAP
    assert len(list(tus.client.app[keys.STORAGE].uploads_dir.iterdir())) == CAP


async def test_a_stalled_whole_body_past_the_cap_keeps_nothing(tus) -> None:
    """A body that stops arriving is answered (the client is still there), and what came
    is kept to be resumed only if the account has room for one more unfinished upload."""
    tus.client.app[keys.CONFIG].options["tus_idle_timeout"] = 0.3
    for _ in range(CAP):
        await tus.create(100)
    data = tus.text(500)
    reader, writer = await tus.open_raw("POST", tus.TUS, len(data), {
        "Upload-Length": str(len(data)),
        "Upload-Metadata": tus.metadata({"filename": "register.txt"})})
    try:
        writer.write(data[:200])
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 15)
        length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        assert length is not None, head
        body = await asyncio.wait_for(reader.readexactly(int(length[1])), 15)
    finally:
        writer.close()
    assert head.startswith((b"HTTP/1.1 400", b"HTTP/1.1 408")), head
    assert b"\r\nlocation:" not in head.lower()
    reason = json.loads(body)
    assert reason["error"] in ("incomplete_body", "too_slow")
    assert "nothing was kept" in reason["message"]
    assert "bytes are kept" not in reason["message"]
    db = tus.client.app[keys.DATABASE]
    assert db.fetchone("SELECT COUNT(*) FROM uploads")[0] == CAP


async def test_uploads_over_a_lowered_cap_stay_resumable_after_a_restart(
        aiohttp_client, tus_config: ServerConfig, make_tus) -> None:
    """The cap holds back new uploads only: bytes already accepted are never refused, so
    a server restarted with a smaller cap still lets every upload it holds finish."""
    tus_config.max_unfinished_uploads = CAP + 2
    first = await aiohttp_client(create_app(tus_config))
    tus = make_tus(first, first.app[keys.DEFAULT_TOKEN])
    data = tus.text(400)
    urls = [await tus.create(len(data)) for _ in range(CAP + 2)]
    for url in urls:
        await tus.patch(url, 0, data[:100])
    await first.close()

    tus_config.max_unfinished_uploads = CAP
    second = await aiohttp_client(create_app(tus_config))
    tus = make_tus(second, second.app[keys.DEFAULT_TOKEN])
    await _refused(tus)
    for url in urls:
        assert (await tus.head(url)).headers["Upload-Offset"] == "100"
        await tus.patch(url, 100, data[100:])
        resp = await second.get(f"/api/v1/files/{tus.upload_id(url)}", headers=tus.headers())
        assert resp.status == 200, await resp.text()
    await tus.create(len(data))  # all finished: room again


async def test_a_browser_can_read_why_and_when_to_retry(tus) -> None:
    """tus-js-client in a page sees only the headers CORS exposes: Retry-After must be."""
    for _ in range(CAP):
        await tus.create(100)
    body = await _refused(tus, Origin="https://school.example")
    assert body["error"] == "too_many_unfinished_uploads"
    resp = await tus.client.post(tus.TUS, headers=tus.headers({
        "Upload-Length": "100", "Origin": "https://school.example",
        "Upload-Metadata": tus.metadata({"filename": "x.txt"})}))
    assert resp.status == 429
    assert resp.headers["Access-Control-Allow-Origin"] == "https://school.example"
    exposed = {h.strip() for h in resp.headers["Access-Control-Expose-Headers"].split(",")}
    assert "Retry-After" in exposed
    assert resp.content_type == "application/json"
