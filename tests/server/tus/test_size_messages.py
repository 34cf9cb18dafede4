"""Quota and size refusals speak in sizes a teacher reads (kB, MB), not raw byte counts."""

from __future__ import annotations

from aiohttp import ClientResponse

from tests.server.tus.conftest import TUS, Tus
from toolbox_uploader.server import keys

NEEDS_TOO_MUCH = "The upload needs 605 kB but only 389 kB are left in the quota (216 kB short)."


async def _refusal(resp: ClientResponse) -> dict:
    assert resp.status == 413
    return await resp.json()


def _small(tus: Tus, quota: int) -> Tus:
    _account, token = tus.client.app[keys.ACCOUNTS].create("small", quota_bytes=quota)
    return type(tus)(tus.client, token)


async def test_creation_over_the_quota_gives_human_sizes(tus: Tus) -> None:
    small = _small(tus, 388_662)
    resp = await small.client.post(TUS, headers=small.headers({"Upload-Length": "604566"}))
    assert await _refusal(resp) == {"error": "quota_exceeded", "message": NEEDS_TOO_MUCH}


async def test_a_declared_length_past_the_quota_gives_human_sizes(tus: Tus) -> None:
    small = _small(tus, 388_662)
    url = await small.create(None)
    resp = await small.patch(url, 0, b"", expect=None, Upload_Length="604566")
    assert await _refusal(resp) == {
        "error": "quota_exceeded",
        "message": "The upload needs 605 kB but the quota does not leave room for it."}


async def test_server_and_category_limits_give_human_sizes(tus: Tus) -> None:
    tus.client.app[keys.CONFIG].max_size = 10 * 1024 * 1024
    resp = await tus.client.post(TUS, headers=tus.headers({"Upload-Length": "10485761"}))
    assert resp.headers["Tus-Max-Size"] == "10485760"  # the exact number, for clients
    assert (await _refusal(resp))["message"] == "Uploads are limited to 10.5 MB (Tus-Max-Size)."
    tus.client.app[keys.CONFIG].max_size = 20 * 1024 * 1024
    meta = tus.metadata({"filename": "me.png", "category": "avatar"})  # up to 10 MiB
    resp = await tus.client.post(TUS, headers=tus.headers(
        {"Upload-Length": "10485761", "Upload-Metadata": meta}))
    assert await _refusal(resp) == {"error": "too_large", "message": "This category accepts "
                                    "files up to 10.5 MB."}


async def test_data_past_a_limit_names_it_in_human_sizes(tus: Tus) -> None:
    tus.client.app[keys.CONFIG].max_size = 2048
    url = await tus.create(None, {"filename": "a.txt", "category": "temporary"})
    body = await _refusal(await tus.patch(url, 0, tus.text(3000), expect=None))
    assert body == {"error": "too_large", "message": "This request would take the upload "
                    "past the server's limit of 2.0 kB."}


async def test_the_quota_check_when_storing_gives_human_sizes(tus: Tus) -> None:
    small = _small(tus, 700_000)
    url = await small.create(604_566)
    db = tus.client.app[keys.DATABASE]  # the quota shrinks while the upload is under way
    db.execute("UPDATE accounts SET quota_bytes = ? WHERE name = ?", (388_662, "small"))
    body = await _refusal(await small.patch(url, 0, small.text(604_566), expect=None))
    assert body == {"error": "quota_exceeded", "message": (
        "Storing this file needs 605 kB but only 389 kB are left in the quota (216 kB short).")}
