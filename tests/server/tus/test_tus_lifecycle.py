"""Completion, failure, termination, expiry, quota, accounts and hostile metadata."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import time

import pytest

from toolbox_uploader.core.categories import get_category
from toolbox_uploader.server import keys
from toolbox_uploader.server.api import params
from toolbox_uploader.server.app import create_app
from toolbox_uploader.server.storage import Storage
from toolbox_uploader.server.tus.expiry import expire_uploads
from toolbox_uploader.server.tus.state import STATE

TUS = "/api/v1/storage/tus/"


def file_row(tus, url: str):
    return tus.client.app[keys.DATABASE].fetchone(
        "SELECT * FROM files WHERE id = ?", (tus.upload_id(url),))


async def test_completed_upload_is_recorded_as_a_file(tus) -> None:
    payload = tus.text(2048)
    url = await tus.create(len(payload), {"filename": "Arbeitsblatt.txt",
                                          "relativePath": "Klasse 5/Arbeitsblatt.txt",
                                          "category": "educational_content", "title": "AB 1"})
    await tus.patch(url, 0, payload)
    row = file_row(tus, url)
    assert row["filename"] == "Arbeitsblatt.txt"
    assert row["relative_path"] == "Klasse 5/Arbeitsblatt.txt"
    assert row["category"] == "educational_content"
    assert row["size"] == len(payload)
    assert row["sha256"] == hashlib.sha256(payload).hexdigest()
    assert row["mime_type"] == "text/plain"
    assert row["title"] == "AB 1"


async def test_sha256_mismatch_fails_the_upload_with_a_reason(tus, data_dir) -> None:
    payload = tus.text(1500)
    url = await tus.create(len(payload), {"sha256": "0" * 64})
    await tus.patch(url, 0, payload[:500])
    resp = await tus.patch(url, 500, payload[500:], expect=400)
    assert (await resp.json())["error"] == "checksum_mismatch"
    assert resp.headers["Tus-Resumable"] == "1.0.0"
    assert file_row(tus, url) is None
    assert not Storage(data_dir).file_path(tus.upload_id(url)).exists()
    assert not Storage(data_dir).upload_path(tus.upload_id(url)).exists()
    # afterwards: 410 Gone; a PATCH repeats the reason in JSON
    await tus.head(url, expect=410)
    resp = await tus.patch(url, 1500, b"", expect=410)
    body = await resp.json()
    assert body["error"] == "checksum_mismatch"
    assert "SHA-256" in body["message"]


async def test_validation_failure_is_422_and_nothing_is_stored(tus, data_dir) -> None:
    payload = b"\x7fELF\x02\x01\x01" + os.urandom(4000)  # not teaching material
    url = await tus.create(len(payload), {"filename": "tool.pdf"})
    resp = await tus.patch(url, 0, payload, expect=422)
    assert (await resp.json())["error"] != "internal_error"
    assert file_row(tus, url) is None
    assert not Storage(data_dir).file_path(tus.upload_id(url)).exists()
    await tus.head(url, expect=410)


async def test_a_file_that_trips_a_content_parser_is_refused_not_a_500(tus, data_dir) -> None:
    # Python's HTML parser stops with an AssertionError on "<![ x"; the PATCH that completes
    # the upload must get the validation's 422, and the upload must say it failed.
    payload = (b"<!DOCTYPE html><html><body><p>The script of the play</p><![ x </body></html>"
               + b" " * 2000)
    url = await tus.create(len(payload), {"filename": "play.html"})
    resp = await tus.patch(url, 0, payload, expect=422)
    assert (await resp.json())["error"] == "script_content"
    assert file_row(tus, url) is None
    await tus.head(url, expect=410)


async def test_an_unexpected_failure_while_storing_fails_the_upload_cleanly(
    aiohttp_client, tus_config, make_tus
) -> None:
    def broken_validator(path, category, filename):  # a site's own hook with a bug in it
        raise RuntimeError(f"cannot open {path}")

    tus_config.validator = broken_validator
    client = await aiohttp_client(create_app(tus_config))
    tus = make_tus(client, client.app[keys.DEFAULT_TOKEN])
    payload = tus.text(3000)
    url = await tus.create(len(payload))
    resp = await tus.patch(url, 0, payload, expect=500)
    body = await resp.json()
    assert body["error"] == "completion_failed"
    assert str(tus_config.data_dir) not in body["message"]  # no server paths for clients
    # Not a complete upload without a file: it failed, and says so.
    await tus.head(url, expect=410)
    assert not Storage(tus_config.data_dir).upload_path(tus.upload_id(url)).exists()


async def test_empty_upload_fails_cleanly(tus) -> None:
    resp = await tus.client.post(TUS, headers=tus.headers({"Upload-Length": "0"}))
    assert resp.status == 422
    assert "Location" in resp.headers
    assert (await resp.json())["error"] == "empty_file"


async def test_termination(tus, data_dir) -> None:
    url = await tus.create(100)
    await tus.patch(url, 0, b"abc")
    part = Storage(data_dir).upload_path(tus.upload_id(url))
    assert part.exists()
    resp = await tus.client.delete(url, headers=tus.headers())
    assert resp.status == 204
    assert resp.headers["Tus-Resumable"] == "1.0.0"
    assert not part.exists()
    await tus.head(url, expect=404)
    await tus.patch(url, 3, b"d", expect=404)
    resp = await tus.client.delete(url, headers=tus.headers())
    assert resp.status == 404


async def test_expired_uploads_are_removed_by_the_periodic_task(
    aiohttp_client, server_config, data_dir, make_tus
) -> None:
    server_config.upload_expiration = 0.3
    server_config.cleanup_interval = 0.1
    client = await aiohttp_client(create_app(server_config))
    tus = make_tus(client, client.app[keys.DEFAULT_TOKEN])
    url = await tus.create(100)
    resp = await tus.patch(url, 0, b"abc")
    assert "Upload-Expires" in resp.headers
    part = Storage(data_dir).upload_path(tus.upload_id(url))
    deadline = time.monotonic() + 10
    while part.exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not part.exists()
    await tus.head(url, expect=410)
    resp = await tus.patch(url, 3, b"d", expect=410)
    assert (await resp.json())["error"] == "upload_expired"


async def test_expiry_is_enforced_before_the_clean_up_runs(tus) -> None:
    url = await tus.create(100)
    app = tus.client.app
    app[keys.DATABASE].execute("UPDATE uploads SET expires_at = ?", (time.time() - 1,))
    await tus.head(url, expect=410)
    assert expire_uploads(app) == 1
    await tus.head(url, expect=410)
    # finished uploads never expire
    done = await tus.create(10)
    await tus.patch(done, 0, tus.text(10))
    assert expire_uploads(app, now=time.time() + 3600) == 0
    await tus.head(done, expect=200)


async def test_quota_is_enforced_at_creation(tus) -> None:
    app = tus.client.app
    _account, token = app[keys.ACCOUNTS].create("small", quota_bytes=1000)
    small = type(tus)(tus.client, token)
    resp = await small.client.post(TUS, headers=small.headers({"Upload-Length": "1001"}))
    assert resp.status == 413
    body = await resp.json()
    assert body["error"] == "quota_exceeded"
    await small.create(600)
    # the first upload's declared length is reserved
    resp = await small.client.post(TUS, headers=small.headers({"Upload-Length": "600"}))
    assert resp.status == 413
    # deferred length: checked when the length is declared
    deferred = await small.create(None)
    resp = await small.patch(deferred, 0, b"", expect=413, Upload_Length="500")
    assert (await resp.json())["error"] == "quota_exceeded"


async def test_bytes_sent_before_a_deferred_length_keep_to_the_quota(tus) -> None:
    app = tus.client.app
    _account, token = app[keys.ACCOUNTS].create("deferring", quota_bytes=3000)
    small = type(tus)(tus.client, token)
    first = await small.create(None)
    await small.patch(first, 0, small.text(2000))
    second = await small.create(None)
    # 1,000 bytes are left: a request that says it brings more is refused up front...
    resp = await small.patch(second, 0, small.text(1500), expect=413)
    assert (await resp.json())["error"] == "quota_exceeded"
    # ...and one that does not say (chunked) is cut where it would pass it.
    async def chunked():
        yield small.text(600)
        await asyncio.sleep(0.05)
        yield small.text(600)

    resp = await small.patch(second, 0, chunked(), expect=413)
    body = await resp.json()
    assert body["error"] == "quota_exceeded", body
    head = await small.head(second)
    kept = int(head.headers["Upload-Offset"])
    assert f"{kept} bytes are kept" in body["message"] and 600 <= kept <= 1000
    await small.patch(second, kept, small.text(1000 - kept))  # what fits still goes in
    # The quota is now full: no new upload starts, whether its length is known or not.
    resp = await small.client.post(TUS, headers=small.headers({"Upload-Defer-Length": "1"}))
    assert resp.status == 413 and (await resp.json())["error"] == "quota_exceeded"
    usage = await (await small.client.get("/api/v1/quota", headers=small.headers())).json()
    assert usage["used"] + usage["reserved"] <= 3000


async def test_bytes_sent_before_a_deferred_length_keep_to_the_category_limit(tus) -> None:
    limit = get_category("avatar").max_size
    url = await tus.create(None, {"filename": "me.png", "category": "avatar"})
    resp = await tus.patch(url, 0, b"\0" * (limit + 1), expect=413)
    body = await resp.json()
    assert body["error"] == "too_large" and "category" in body["message"]
    assert (await tus.head(url)).headers["Upload-Offset"] == "0"


async def test_accounts_are_isolated(tus) -> None:
    app = tus.client.app
    _account, token = app[keys.ACCOUNTS].create("other")
    other = type(tus)(tus.client, token)
    url = await tus.create(100)
    await tus.patch(url, 0, b"abc")
    await other.head(url, expect=404)
    await other.patch(url, 3, b"x", expect=404)
    resp = await other.client.delete(url, headers=other.headers())
    assert resp.status == 404
    partial = await tus.create(10, {}, Upload_Concat="partial")
    resp = await other.client.post(TUS, headers=other.headers(
        {"Upload-Concat": f"final;{partial}"}))
    assert resp.status == 400
    # and the owner's upload is untouched
    assert (await tus.head(url)).headers["Upload-Offset"] == "3"


@pytest.mark.parametrize("filename, relative_path", [
    ("../../../../etc/passwd.txt", "../../../../etc/passwd"),
    ("/etc/shadow.txt", "/abs/../../x"),
    ("..\\..\\boot.txt", "C:\\Windows\\system32\\evil.txt"),
    ("a" * 200 + ".txt", "/".join(["deep"] * 150)),
    ("\u202eevil\u202dfdp.txt", "\u00fcber/\u30c6\u30b9\u30c8/\U0001f600.txt"),
    ("cafe\u0301.txt", "Le\u0301gumes/cafe\u0301.txt"),
    ("con.txt", "nul/aux/prn"),
])
async def test_hostile_names_are_data_only(tus, data_dir, filename, relative_path) -> None:
    """Stored as data, cleaned as multipart fields are (the name's last segment, the path's
    safe segments), refused (bidi controls: 400) or refused by validation; never a path."""
    payload = tus.text(300)
    metadata = tus.metadata({"filename": filename, "relativePath": relative_path})
    created = await tus.client.post(TUS, headers=tus.headers(
        {"Upload-Length": str(len(payload)), "Upload-Metadata": metadata}))
    if created.status == 400:
        assert "\u202e" in filename and (await created.json())["error"] == "invalid_field"
        return
    url = created.headers["Location"]
    resp = await tus.patch(url, 0, payload, expect=None)
    row = file_row(tus, url)
    stored = Storage(data_dir).file_path(tus.upload_id(url))
    if resp.status == 204:
        assert row["filename"] == params.filename(filename)
        assert row["relative_path"] == params.relative_path(relative_path)
        assert stored.read_bytes() == payload
    else:  # the validation rules refuse such names (e.g. 422 path_traversal)
        assert resp.status == 422, await resp.text()
        assert row is None and not stored.exists()
        await tus.head(url, expect=410)
    allowed = re.compile(r"^([0-9a-f]{2}|[0-9a-f]{32}(\.part)?|uploads|files|tmp|"
                         r"server\.sqlite3(-wal|-shm)?|default-token)$")
    for path in data_dir.rglob("*"):
        assert allowed.match(path.name), path
    assert not (data_dir.parent / "etc").exists()


@pytest.mark.parametrize("value", ["a\x00b", "line\nbreak", "tab\there"])
async def test_control_characters_in_names_are_400(tus, value) -> None:
    resp = await tus.client.post(TUS, headers=tus.headers(
        {"Upload-Length": "5", "Upload-Metadata": tus.metadata({"filename": value})}))
    assert resp.status == 400
    assert (await resp.json())["error"] == "invalid_metadata"


async def test_overlong_names_are_400(tus) -> None:
    resp = await tus.client.post(TUS, headers=tus.headers(
        {"Upload-Length": "5", "Upload-Metadata": tus.metadata({"filename": "x" * 2000})}))
    assert resp.status == 400


async def test_a_restarted_server_resumes_with_the_right_hash(
    aiohttp_client, tus_config, tus
) -> None:
    """The running hash is rebuilt from the part file after a restart."""
    payload = tus.text(5000)
    url = await tus.create(len(payload), {"sha256": hashlib.sha256(payload).hexdigest()})
    await tus.patch(url, 0, payload[:3000])
    client2 = await aiohttp_client(create_app(tus_config))
    tus2 = type(tus)(client2, tus.token)
    assert (await tus2.head(url)).headers["Upload-Offset"] == "3000"
    await tus2.patch(url, 3000, payload[3000:])
    assert Storage(tus_config.data_dir).file_path(tus.upload_id(url)).read_bytes() == payload


async def test_delete_while_writing_is_refused(tus) -> None:
    url = await tus.create(10 * 1024 * 1024)
    reader, writer = await asyncio.open_connection(tus.client.host, tus.client.port)
    writer.write((
        f"PATCH {url} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n"
        f"Authorization: Bearer {tus.token}\r\nContent-Type: {tus.OCTET}\r\n"
        f"Upload-Offset: 0\r\nContent-Length: {10 * 1024 * 1024}\r\n\r\n").encode() + b"a" * 1000)
    await writer.drain()
    deadline = time.monotonic() + 5
    while not tus.client.app[STATE].busy(tus.upload_id(url)) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    resp = await tus.client.delete(url, headers=tus.headers())
    assert resp.status == 423
    writer.close()
    del reader
