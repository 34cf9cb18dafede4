"""The server's storage failing while a final (concatenated) upload is stored.

The partial uploads hold the only copy of the client's bytes until the final is stored.
They used to be dropped before the final was validated and stored, so a read-only or full
disk at that moment lost every part: the client had to send the whole file again. Now
the final fails with 503/507 + ``Retry-After`` and the parts stay, so creating the final
again (no byte re-sent) stores the file.

The database is made read-only for real (SQLite's ``query_only``) by the validator, once
the file passed it, as a disk turning read-only between the checks and the move would.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from conftest import Tus

from toolbox_uploader.server import keys
from toolbox_uploader.server.app import create_app
from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.storage import Storage
from toolbox_uploader.server.validation_hook import ValidationOutcome, default_validator


@dataclass
class Faulty:
    app: web.Application
    on: bool = False
    #: The account's reserved bytes while the validator ran (the parts, counted once).
    reserved: list[int] | None = None


@pytest.fixture
def faulty(tus_config: ServerConfig) -> Faulty:
    def validator(path: Path, category: str, filename: str) -> ValidationOutcome:
        accounts = made.app[keys.ACCOUNTS]
        made.reserved = [accounts.usage(a).reserved for a in accounts.all()]
        outcome = default_validator(path, category, filename)
        if made.on:
            made.app[keys.DATABASE].execute("PRAGMA query_only = ON")
        return outcome

    tus_config.validator = validator
    made = Faulty(create_app(tus_config))
    return made


def _writable(app: web.Application) -> None:
    app[keys.DATABASE].execute("PRAGMA query_only = OFF")


async def _final(tus: Tus, parts: list[str], meta: dict[str, str]):
    resp = await tus.client.post(tus.TUS, headers=tus.headers({
        "Upload-Concat": "final;" + " ".join(parts), "Upload-Metadata": tus.metadata(meta)}))
    await resp.read()
    return resp


async def _parts(tus: Tus, payload: bytes) -> list[str]:
    half = len(payload) // 2
    urls = []
    for piece in (payload[:half], payload[half:]):
        url = await tus.create(len(piece), {}, Upload_Concat="partial")
        await tus.patch(url, 0, piece)
        urls.append(url)
    return urls


async def test_a_final_the_storage_refuses_keeps_its_parts(
        aiohttp_client, make_tus, faulty: Faulty, data_dir: Path) -> None:
    client = await aiohttp_client(faulty.app)
    tus = make_tus(client, client.app[keys.DEFAULT_TOKEN])
    payload = tus.text(40_000)
    meta = {"filename": "joined.txt", "sha256": hashlib.sha256(payload).hexdigest()}
    parts = await _parts(tus, payload)
    faulty.on = True
    resp = await _final(tus, parts, meta)
    assert resp.status == 503, await resp.text()
    body = await resp.json()
    assert body["error"] == "storage_unavailable" and resp.headers["Retry-After"]
    assert "partial uploads are kept" in body["message"]
    faulty.on = False
    _writable(client.app)
    for url, size in zip(parts, (20_000, 20_000), strict=True):
        head = await tus.head(url)  # still there, complete
        assert head.headers["Upload-Offset"] == str(size)
    failed = tus.rel(resp.headers["Location"])
    assert not Storage(data_dir).upload_path(tus.upload_id(failed)).exists()
    # The retry of the creation joins the same parts: no byte sent again. The failed
    # final could not even be marked so (read-only database): the new one replaces it.
    resp = await _final(tus, parts, meta)
    assert resp.status == 201, await resp.text()
    await tus.head(failed, expect=410)
    assert faulty.reserved == [len(payload)]  # the parts, not the parts and the final
    final = tus.upload_id(resp.headers["Location"])
    assert Storage(data_dir).file_path(final).read_bytes() == payload
    for url in parts:  # gone once the final is stored
        await tus.head(url, expect=404)
        assert not Storage(data_dir).upload_path(tus.upload_id(url)).exists()
    usage = client.app[keys.ACCOUNTS].usage(client.app[keys.ACCOUNTS].all()[0])
    assert (usage.used, usage.reserved) == (len(payload), 0)


async def test_an_unfinished_final_the_storage_refuses_keeps_its_parts(
        aiohttp_client, make_tus, faulty: Faulty) -> None:
    """The final exists first; the last part's PATCH joins it (and is answered 204)."""
    client = await aiohttp_client(faulty.app)
    tus = make_tus(client, client.app[keys.DEFAULT_TOKEN])
    payload = tus.text(9_000)
    first = await tus.create(4_000, {}, Upload_Concat="partial")
    last = await tus.create(5_000, {}, Upload_Concat="partial")
    await tus.patch(first, 0, payload[:4_000])
    resp = await _final(tus, [first, last], {"filename": "late.txt"})
    assert resp.status == 201
    waiting = tus.rel(resp.headers["Location"])
    faulty.on = True
    await tus.patch(last, 0, payload[4_000:])
    faulty.on = False
    _writable(client.app)
    assert (await tus.head(last)).headers["Upload-Offset"] == "5000"
    resp = await _final(tus, [first, last], {"filename": "late.txt"})
    assert resp.status == 201, await resp.text()
    await tus.head(waiting, expect=410)
    stored = client.app[keys.STORAGE].file_path(tus.upload_id(resp.headers["Location"]))
    assert stored.read_bytes() == payload


async def test_a_final_refused_by_validation_still_drops_its_parts(tus: Tus) -> None:
    """The same bytes would be refused again: keeping the parts would only hold quota."""
    payload = b"MZ" + b"\0" * 3000  # a Windows executable: refused by every category
    parts = await _parts(tus, payload)
    resp = await _final(tus, parts, {"filename": "joined.txt"})
    assert resp.status == 422, await resp.text()
    for url in parts:
        await tus.head(url, expect=404)


async def test_a_final_still_waiting_for_a_part_keeps_it(tus: Tus) -> None:
    """Only a final with every part complete and nobody completing it is replaced."""
    first = await tus.create(10, {}, Upload_Concat="partial")
    second = await tus.create(10, {}, Upload_Concat="partial")
    await tus.patch(first, 0, b"0123456789")
    assert (await _final(tus, [first, second], {"filename": "a.txt"})).status == 201
    resp = await _final(tus, [first, second], {"filename": "a.txt"})
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_concat"
