"""An account holds at most ``max_unfinished_uploads`` unfinished uploads at once.

A client that creates uploads and never finishes them (a bug, or on purpose) would fill
the database and the disk with empty uploads for a day each. Past the cap a creation is
answered 429 with ``Retry-After`` and a JSON reason; room comes back as uploads finish,
are deleted or expire. Uploads that complete in their creation request, other accounts,
and the final upload of a concatenation are not held back."""

from __future__ import annotations

import time

import pytest

from tests.engine.engine_support import add_server_account
from toolbox_uploader.server import keys
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
