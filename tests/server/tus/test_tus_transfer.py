"""Bytes on the wire: cut-off bodies, checksums, locking, crash repair, progress."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time

import pytest

from toolbox_uploader.server import keys
from toolbox_uploader.server.storage import Storage
from toolbox_uploader.server.tus.state import STALE_HOLD_SECONDS, STATE

MiB = 1024 * 1024


async def open_patch(tus, url: str, offset: int, total: int, **headers: str):
    """Start a PATCH on a raw socket and return the writer; the body is sent by the test."""
    extra = {k.replace("_", "-"): v for k, v in headers.items()}
    return await tus.open_raw("PATCH", url, total, {"Upload-Offset": str(offset), **extra})


async def head_offset(tus, url: str) -> int:
    return int((await tus.head(url)).headers["Upload-Offset"])


async def wait_for_offset(tus, url: str, predicate, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        offset = await head_offset(tus, url)
        if predicate(offset) or time.monotonic() > deadline:
            return offset
        await asyncio.sleep(0.02)


async def test_cut_off_patch_keeps_what_arrived_and_resumes(tus, data_dir) -> None:
    payload = tus.text(12 * MiB + 123)
    url = await tus.create(len(payload), {"filename": "long.txt",
                                          "sha256": hashlib.sha256(payload).hexdigest()})
    sent = 9 * MiB + 77
    _reader, writer = await open_patch(tus, url, 0, len(payload))
    writer.write(payload[:sent])
    await writer.drain()
    # The PATCH is still open; the committed offset already moves (periodic commits).
    offset = await wait_for_offset(tus, url, lambda o: o >= 8 * MiB)
    assert 8 * MiB <= offset <= sent
    # A second writer on the same upload is refused, never interleaved.
    resp = await tus.patch(url, offset, b"x", expect=423)
    assert (await resp.json())["error"] == "upload_locked"
    writer.close()  # the client dies mid-body
    offset = await wait_for_offset(tus, url, lambda o: o == sent)
    assert offset == sent  # everything that arrived is kept, and only that
    part = Storage(data_dir).upload_path(tus.upload_id(url))
    assert part.stat().st_size == sent
    await tus.patch(url, sent, payload[sent:])
    assert Storage(data_dir).file_path(tus.upload_id(url)).read_bytes() == payload


async def test_a_patch_whose_client_went_silent_yields_to_the_resuming_client(
        tus, data_dir) -> None:
    """A link gone dead mid-body (no FIN, no RST: a laptop put to sleep) held the upload's
    lock until the 60 s idle timeout, and the client, back and resuming, met only 423s."""
    payload = tus.text(3 * MiB + 11)
    url = await tus.create(len(payload))
    sent = MiB + 5
    _reader, writer = await open_patch(tus, url, 0, len(payload))
    writer.write(payload[:sent])
    await writer.drain()
    await wait_for_offset(tus, url, lambda o: o > 0)
    # Still receiving (or only just silent): a second writer is refused, never interleaved.
    await tus.patch(url, await head_offset(tus, url), b"x", expect=423)
    await asyncio.sleep(STALE_HOLD_SECONDS + 0.3)  # the old client says nothing more
    started = time.monotonic()
    statuses = []
    for _ in range(5):  # HEAD and continue, as a client does after a 409
        offset = await head_offset(tus, url)
        resp = await tus.patch(url, offset, payload[offset:], expect=None)
        statuses.append(resp.status)
        if resp.status == 204:
            break
    assert statuses[-1] == 204 and 423 not in statuses, statuses
    assert time.monotonic() - started < 5
    assert Storage(data_dir).file_path(tus.upload_id(url)).read_bytes() == payload
    writer.close()


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "md5"])
async def test_checksum_verified_chunks_are_kept(tus, data_dir, algorithm) -> None:
    payload = tus.text(5000)
    url = await tus.create(len(payload))
    for start in range(0, len(payload), 2000):
        chunk = payload[start:start + 2000]
        digest = base64.b64encode(hashlib.new(algorithm, chunk).digest()).decode()
        await tus.patch(url, start, chunk, Upload_Checksum=f"{algorithm} {digest}")
    assert Storage(data_dir).file_path(tus.upload_id(url)).read_bytes() == payload


async def test_checksum_mismatch_is_460_and_the_offset_does_not_move(tus, data_dir) -> None:
    payload = tus.text(3000)
    url = await tus.create(len(payload))
    await tus.patch(url, 0, payload[:1000])
    wrong = base64.b64encode(hashlib.sha1(b"something else").digest()).decode()
    resp = await tus.patch(url, 1000, payload[1000:2000], expect=460,
                           Upload_Checksum=f"sha1 {wrong}")
    assert resp.headers["Tus-Resumable"] == "1.0.0"
    assert (await resp.json())["error"] == "checksum_mismatch"
    assert await head_offset(tus, url) == 1000
    part = Storage(data_dir).upload_path(tus.upload_id(url))
    assert part.stat().st_size == 1000
    # the whole-file hash was rolled back too: the stored file is right
    await tus.patch(url, 1000, payload[1000:])
    stored = Storage(data_dir).file_path(tus.upload_id(url))
    assert stored.read_bytes() == payload
    row = tus.client.app[keys.DATABASE].fetchone(
        "SELECT sha256 FROM files WHERE id = ?", (tus.upload_id(url),))
    assert row["sha256"] == hashlib.sha256(payload).hexdigest()


@pytest.mark.parametrize("value", ["crc32 AAAAAA==", "sha1", "sha1 !!!", "sha1 AAAA",
                                   "sha1  AAAA", "sha256 " + "A" * 5])
async def test_bad_checksum_headers_are_400(tus, value) -> None:
    url = await tus.create(10)
    resp = await tus.patch(url, 0, b"abc", expect=400, Upload_Checksum=value)
    assert (await resp.json())["error"] in {
        "unsupported_checksum", "invalid_checksum", "invalid_base64"}
    assert await head_offset(tus, url) == 0


async def test_checksum_with_a_cut_body_keeps_nothing(tus) -> None:
    payload = tus.text(4000)
    url = await tus.create(len(payload))
    digest = base64.b64encode(hashlib.md5(payload).digest()).decode()
    _reader, writer = await open_patch(tus, url, 0, len(payload), Upload_Checksum=f"md5 {digest}")
    writer.write(payload[:2500])
    await writer.drain()
    writer.close()
    deadline = time.monotonic() + 5
    while tus.client.app[STATE].busy(tus.upload_id(url)) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert await head_offset(tus, url) == 0


async def test_a_part_file_longer_than_the_offset_is_cut_back(tus, data_dir) -> None:
    """A crash between write and commit leaves extra bytes; they never reach the file."""
    payload = tus.text(3000)
    url = await tus.create(len(payload), {"sha256": hashlib.sha256(payload).hexdigest()})
    await tus.patch(url, 0, payload[:1000])
    part = Storage(data_dir).upload_path(tus.upload_id(url))
    with open(part, "ab") as handle:
        handle.write(b"GARBAGE" * 100)
    tus.client.app[STATE].hashers.clear()  # as after a restart: rebuilt from disk once
    assert await head_offset(tus, url) == 1000
    await tus.patch(url, 1000, payload[1000:])
    assert Storage(data_dir).file_path(tus.upload_id(url)).read_bytes() == payload


async def test_a_part_file_shorter_than_the_offset_goes_back(tus, data_dir) -> None:
    payload = tus.text(3000)
    url = await tus.create(len(payload))
    await tus.patch(url, 0, payload[:1000])
    os.truncate(Storage(data_dir).upload_path(tus.upload_id(url)), 600)
    tus.client.app[STATE].hashers.clear()
    resp = await tus.patch(url, 1000, payload[1000:2000], expect=409)
    assert resp.headers["Upload-Offset"] == "600"
    offset = await head_offset(tus, url)
    assert offset == 600
    await tus.patch(url, offset, payload[offset:])
    assert Storage(data_dir).file_path(tus.upload_id(url)).read_bytes() == payload


async def test_chunked_body_without_length_is_streamed(tus, data_dir) -> None:
    payload = tus.text(3 * MiB + 5)

    async def body():
        for start in range(0, len(payload), 256 * 1024):
            yield payload[start:start + 256 * 1024]

    url = await tus.create(len(payload))
    resp = await tus.client.patch(tus.rel(url), data=body(), headers=tus.headers(
        {"Upload-Offset": "0", "Content-Type": tus.OCTET}))
    assert resp.status == 204
    assert Storage(data_dir).file_path(tus.upload_id(url)).read_bytes() == payload


async def test_chunked_body_past_the_length_is_413_and_keeps_the_rest(tus) -> None:
    async def body():
        yield b"a" * 100
        await asyncio.sleep(0)
        yield b"b" * 100

    url = await tus.create(150)
    resp = await tus.client.patch(tus.rel(url), data=body(), headers=tus.headers(
        {"Upload-Offset": "0", "Content-Type": tus.OCTET}))
    assert resp.status == 413
    assert await head_offset(tus, url) in (0, 100)


async def test_progress_is_published_while_receiving_and_at_the_end(tus) -> None:
    payload = tus.text(2 * MiB)
    url = await tus.create(len(payload))
    queue = tus.client.app[keys.PROGRESS].subscribe(tus.upload_id(url))
    await tus.patch(url, 0, payload)
    events = []
    while not queue.empty():
        event = queue.get_nowait()
        if event is None:
            break
        events.append(event["data"])
    assert events[-1]["status"] == "completed"
    assert events[-1]["bytes_uploaded"] == len(payload)
    assert any(e["status"] == "uploading" for e in events)
