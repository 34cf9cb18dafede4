"""However a body ends, an upload whose offset is its length is a stored file.

tus clients stop once HEAD says the offset is the length, so an upload must never get
there without being completed: bytes past the declared length keep nothing of their
request, and a body that brought every byte but then broke off still completes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from toolbox_uploader.server import keys
from toolbox_uploader.server.tus.state import STATE

if TYPE_CHECKING:
    from tests.server.tus.conftest import Tus


async def _file_status(tus: Tus, url: str) -> int:
    resp = await tus.client.get(f"/api/v1/files/{tus.upload_id(url)}", headers=tus.headers())
    await resp.read()
    return resp.status


async def _then_extra(data: bytes) -> AsyncIterator[bytes]:
    yield data
    await asyncio.sleep(0.05)  # its own chunk, after the whole upload
    yield b"EXTRA"


async def _chunked_without_end(tus: Tus, url: str, data: bytes) -> tuple[
        asyncio.StreamReader, asyncio.StreamWriter]:
    """A chunked PATCH carrying ``data`` in one chunk but never the final 0-chunk."""
    reader, writer = await asyncio.open_connection(tus.client.host, tus.client.port)
    lines = [f"PATCH {tus.rel(url)} HTTP/1.1", f"Host: {tus.client.host}",
             *(f"{k}: {v}" for k, v in tus.headers(
                 {"Content-Type": tus.OCTET, "Upload-Offset": "0",
                  "Transfer-Encoding": "chunked"}).items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode()
                 + f"{len(data):x}\r\n".encode() + data + b"\r\n")
    await writer.drain()
    return reader, writer


async def _idle_lock(tus: Tus, url: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while tus.client.app[STATE].busy(tus.upload_id(url)) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert not tus.client.app[STATE].busy(tus.upload_id(url))


async def test_a_chunked_patch_past_the_length_keeps_none_of_its_bytes(tus: Tus) -> None:
    data = tus.text(10_000)
    url = await tus.create(len(data), {"filename": "a.txt", "category": "temporary"})
    resp = await tus.patch(url, 0, _then_extra(data), expect=413)
    assert "0 bytes are kept" in (await resp.json())["message"]
    assert (await tus.head(url)).headers["Upload-Offset"] == "0"
    assert await _file_status(tus, url) == 404
    await tus.patch(url, 0, data)  # the right bytes still make the file
    assert await _file_status(tus, url) == 200


async def test_a_chunked_creation_past_the_length_keeps_none_of_its_bytes(tus: Tus) -> None:
    data = tus.text(10_000)
    resp = await tus.client.post(tus.TUS, data=_then_extra(data), headers=tus.headers({
        "Upload-Length": str(len(data)), "Content-Type": tus.OCTET,
        "Upload-Metadata": tus.metadata({"filename": "b.txt", "category": "temporary"})}))
    assert resp.status == 413, await resp.text()
    url = tus.rel(resp.headers["Location"])
    assert (await tus.head(url)).headers["Upload-Offset"] == "0"


async def test_every_byte_without_the_final_chunk_still_completes(tus: Tus) -> None:
    tus.client.app[keys.CONFIG].options["tus_idle_timeout"] = 0.5
    data = tus.text(3000)
    url = await tus.create(len(data), {"filename": "c.txt", "category": "temporary"})
    reader, writer = await _chunked_without_end(tus, url, data)
    try:
        status_line = await asyncio.wait_for(reader.readline(), 15)
    finally:
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 204"), status_line
    head = await tus.head(url)
    assert head.headers["Upload-Offset"] == head.headers["Upload-Length"] == str(len(data))
    assert await _file_status(tus, url) == 200


async def test_a_partial_without_the_final_chunk_completes_its_final(tus: Tus) -> None:
    tus.client.app[keys.CONFIG].options["tus_idle_timeout"] = 0.5
    first, second = tus.text(2000), tus.text(1000)
    parts = [await tus.create(len(p), {}, Upload_Concat="partial") for p in (first, second)]
    await tus.patch(parts[0], 0, first)
    resp = await tus.client.post(tus.TUS, headers=tus.headers({
        "Upload-Concat": "final;" + " ".join(parts),
        "Upload-Metadata": tus.metadata({"filename": "d.txt", "category": "temporary"})}))
    assert resp.status == 201, await resp.text()
    final = tus.rel(resp.headers["Location"])
    reader, writer = await _chunked_without_end(tus, parts[1], second)
    try:
        status_line = await asyncio.wait_for(reader.readline(), 15)
    finally:
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 204"), status_line
    assert await _file_status(tus, final) == 200


async def test_a_request_cancelled_after_the_last_byte_holds_it_back(tus: Tus) -> None:
    """The test server cancels a handler whose client went away: nobody completes the
    upload then, so its offset must stay short of the length, and the client resumes."""
    data = tus.text(3000)
    url = await tus.create(len(data), {"filename": "e.txt", "category": "temporary"})
    _reader, writer = await _chunked_without_end(tus, url, data)
    deadline = time.monotonic() + 10
    offset = 0
    while offset < len(data) - 1 and time.monotonic() < deadline:  # ~1 s commits
        offset = int((await tus.head(url)).headers["Upload-Offset"])
        await asyncio.sleep(0.05)
    writer.close()
    await _idle_lock(tus, url)
    assert (await tus.head(url)).headers["Upload-Offset"] == str(len(data) - 1)
    assert await _file_status(tus, url) == 404
    await tus.patch(url, len(data) - 1, data[-1:])
    assert await _file_status(tus, url) == 200
