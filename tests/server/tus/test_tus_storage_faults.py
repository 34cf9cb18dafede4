"""The server's own storage failing under a tus upload: its disk full, its database
read-only. The client gets a JSON 507/503 with ``Retry-After``, never a 500, and no byte it
was told is kept is lost: once the storage is back, the upload carries on and completes.

The database is made read-only for real (SQLite's ``query_only`` on the server's own
connection); a full disk is a real 2 MB tmpfs filled up (when the tests run as root), or
a real ``ENOSPC`` (``/dev/full``) and ``SQLITE_FULL``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from tests.support.small_disk import small_disk_at
from toolbox_uploader.server import keys
from toolbox_uploader.server.app import create_app
from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.errors import storage_failure
from toolbox_uploader.server.storage import Storage
from toolbox_uploader.server.validation_hook import ValidationOutcome, default_validator


def _read_only(app: web.Application, on: bool) -> None:
    app[keys.DATABASE].execute(f"PRAGMA query_only = {'ON' if on else 'OFF'}")


@dataclass
class Faulty:
    """An app whose validator makes its database read-only once it has passed the file
    (``on``), as a disk that turns read-only between receiving and recording would."""

    app: web.Application
    on: bool = False


@pytest.fixture
def faulty(tus_config: ServerConfig) -> Faulty:
    def validator(path: Path, category: str, filename: str) -> ValidationOutcome:
        outcome = default_validator(path, category, filename)
        if made.on:
            _read_only(made.app, True)
        return outcome

    tus_config.validator = validator
    made = Faulty(create_app(tus_config))
    return made


async def _start(aiohttp_client, faulty: Faulty, make_tus):
    client = await aiohttp_client(faulty.app)
    return make_tus(client, client.app[keys.DEFAULT_TOKEN])


async def test_a_completion_the_database_refuses_keeps_every_byte(
        aiohttp_client, tus_config: ServerConfig, make_tus, faulty: Faulty) -> None:
    tus = await _start(aiohttp_client, faulty, make_tus)
    app = tus.client.app
    data = tus.text(300_000)
    url = await tus.create(len(data))
    await tus.patch(url, 0, data[:-100])
    faulty.on = True
    resp = await tus.patch(url, len(data) - 100, data[-100:], expect=503)
    body = await resp.json()
    assert body["error"] == "storage_unavailable" and resp.headers["Retry-After"]
    faulty.on = False
    # Not stored, not lost: one byte short, so the client sends it again.
    head = await tus.head(url)
    assert head.headers["Upload-Offset"] == str(len(data) - 1)
    part = Storage(tus_config.data_dir).upload_path(tus.upload_id(url))
    assert part.stat().st_size == len(data) - 1
    _read_only(app, False)
    await tus.patch(url, len(data) - 1, data[-1:])
    resp = await tus.client.get(f"/api/v1/files/{tus.upload_id(url)}", headers=tus.headers())
    record = await resp.json()
    assert resp.status == 200, record
    assert record["sha256"] == hashlib.sha256(data).hexdigest()


async def test_a_whole_body_creation_the_database_refuses_is_sent_again(
        aiohttp_client, tus_config: ServerConfig, make_tus, faulty: Faulty) -> None:
    tus = await _start(aiohttp_client, faulty, make_tus)
    data = tus.text(20_000)
    headers = tus.headers({"Upload-Length": str(len(data)), "Content-Type": tus.OCTET,
                           "Upload-Metadata": tus.metadata({"filename": "notes.txt"})})
    faulty.on = True
    resp = await tus.client.post(tus.TUS, data=data, headers=headers)
    assert resp.status == 503, await resp.text()
    assert "Location" not in resp.headers  # nothing was kept: no upload to resume
    faulty.on = False
    _read_only(tus.client.app, False)
    resp = await tus.client.post(tus.TUS, data=data, headers=headers)
    assert resp.status == 201, await resp.text()


async def test_requests_on_a_read_only_database_are_503_json(tus, data_dir: Path) -> None:
    data = tus.text(50_000)
    url = await tus.create(len(data))
    await tus.patch(url, 0, data[:10_000])
    _read_only(tus.client.app, True)
    resp = await tus.client.post(tus.TUS, headers=tus.headers({"Upload-Length": "10"}))
    assert resp.status == 503 and (await resp.json())["error"] == "storage_unavailable"
    assert len(list((data_dir / "uploads").iterdir())) == 1  # no orphan part file
    # The bytes land but their offset cannot be recorded: 503, and nothing is lost.
    resp = await tus.patch(url, 10_000, data[10_000:20_000], expect=503)
    assert resp.headers["Retry-After"]
    _read_only(tus.client.app, False)
    head = await tus.head(url)
    offset = int(head.headers["Upload-Offset"])
    assert offset == 10_000
    await tus.patch(url, offset, data[offset:])
    resp = await tus.client.get(f"/api/v1/files/{tus.upload_id(url)}", headers=tus.headers())
    assert (await resp.json())["sha256"] == hashlib.sha256(data).hexdigest()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs (root only: skipped elsewhere), unmounted afterwards."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    with small_disk_at(mount) as disk:
        yield disk


def _fill(disk: Path) -> None:
    with open(disk / "filler", "wb") as filler, contextlib.suppress(OSError):
        while True:  # bounded by the disk's 2 MB
            filler.write(b"\0" * 65536)


async def test_a_full_disk_while_completing_is_507_and_loses_nothing(
        aiohttp_client, tus_config: ServerConfig, make_tus, small_disk: Path) -> None:
    tus_config.data_dir = small_disk / "data"
    full = {"on": False}

    def validator(path: Path, category: str, filename: str) -> ValidationOutcome:
        outcome = default_validator(path, category, filename)
        if full["on"]:
            _fill(small_disk)
        return outcome

    tus_config.validator = validator
    client = await aiohttp_client(create_app(tus_config))
    tus = make_tus(client, client.app[keys.DEFAULT_TOKEN])
    data = tus.text(600_000)
    url = await tus.create(len(data))
    await tus.patch(url, 0, data[:-10])
    full["on"] = True
    resp = await tus.patch(url, len(data) - 10, data[-10:], expect=507)
    assert (await resp.json())["error"] == "disk_full" and resp.headers["Retry-After"]
    full["on"] = False
    # Full, a creation and a PATCH are 507 too, not 500.
    resp = await client.post(tus.TUS, headers=tus.headers({"Upload-Length": "10"}))
    assert resp.status == 507, await resp.text()
    (small_disk / "filler").unlink()
    head = await tus.head(url)
    offset = int(head.headers["Upload-Offset"])
    assert offset == len(data) - 1
    await tus.patch(url, offset, data[offset:])
    resp = await client.get(f"/api/v1/files/{tus.upload_id(url)}", headers=tus.headers())
    assert (await resp.json())["sha256"] == hashlib.sha256(data).hexdigest()


async def test_a_removed_uploads_folder_is_made_again(tus, data_dir: Path) -> None:
    (data_dir / "uploads").rmdir()
    url = await tus.create(5)
    await tus.patch(url, 0, b"hello")


def test_storage_failures_are_told_apart_from_bugs(tmp_path: Path) -> None:
    with open("/dev/full", "wb", buffering=0) as full, pytest.raises(OSError) as nospace:
        full.write(b"x")
    assert nospace.value.errno == errno.ENOSPC
    db = sqlite3.connect(tmp_path / "small.sqlite3", isolation_level=None)
    db.execute("CREATE TABLE t (b BLOB)")
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
    with pytest.raises(sqlite3.OperationalError) as db_full:
        db.execute("INSERT INTO t VALUES (?)", (os.urandom(100_000),))
    db.execute("PRAGMA query_only = ON")
    with pytest.raises(sqlite3.OperationalError) as read_only:
        db.execute("INSERT INTO t VALUES (1)")
    db.close()
    for exc, status in ((nospace.value, 507), (db_full.value, 507), (read_only.value, 503),
                        (OSError(errno.EROFS, "read-only"), 503)):
        answer = storage_failure(exc)
        assert answer is not None and answer.status == status, exc
    for exc in (OSError(errno.ENOENT, "gone"), ConnectionResetError(), ValueError("bug"),
                sqlite3.OperationalError("no such table: x")):
        assert storage_failure(exc) is None
