"""Partial uploads joined into a final upload end their progress.

Every PATCH of a partial upload is followed by the ``ProgressHub`` until a final status,
but the partials are removed when their final upload is built, and nothing said so: each
concatenation left one entry per partial in memory for good, and a WebSocket watching a
partial waited for the periodic re-check, then heard "terminated, the upload is gone"
about bytes that had just become a file."""

from __future__ import annotations

import asyncio

from conftest import Tus

from toolbox_uploader.server import keys


async def _final(tus: Tus, parts: list[str], filename: str) -> int:
    resp = await tus.client.post(tus.TUS, headers=tus.headers({
        "Upload-Concat": "final;" + " ".join(parts),
        "Upload-Metadata": tus.metadata({"filename": filename})}))
    await resp.read()
    return resp.status


async def test_joined_partials_are_no_longer_followed(tus: Tus) -> None:
    hub = tus.client.app[keys.PROGRESS]
    payload = tus.text(3000)
    parts = [await tus.create(1000, {}, Upload_Concat="partial") for _ in range(3)]
    for n, url in enumerate(parts[:2]):
        await tus.patch(url, 0, payload[n * 1000:(n + 1) * 1000])
    assert await _final(tus, parts, "joined.txt") == 201  # waits for the third part
    last = tus.upload_id(parts[2])
    async with tus.client.ws_connect(f"/ws/upload/{last}", headers=tus.headers()) as ws:
        first = await asyncio.wait_for(ws.receive_json(), 5)
        assert first["data"]["status"] == "uploading"
        await tus.patch(parts[2], 0, payload[2000:])  # completes the final upload
        events = []
        while not events or events[-1]["data"]["status"] == "uploading":
            events.append(await asyncio.wait_for(ws.receive_json(), 3))
            assert len(events) < 20
    assert events[-1]["data"]["status"] == "completed"
    assert events[-1]["data"]["bytes_uploaded"] == 1000
    assert hub.tracked() == frozenset()


async def test_partials_of_a_final_over_the_limit_are_no_longer_followed(tus: Tus) -> None:
    """Deferred-length partials are added up only when the last one ends; a sum past
    Tus-Max-Size fails the final upload and removes the parts."""
    tus.client.app[keys.CONFIG].max_size = 1500
    payload = tus.text(2000)
    parts = [await tus.create(None, {}, Upload_Concat="partial") for _ in range(2)]
    assert await _final(tus, parts, "big.txt") == 201
    for n, url in enumerate(parts):
        await tus.patch(url, 0, payload[n * 1000:(n + 1) * 1000], Upload_Length="1000")
    assert tus.client.app[keys.PROGRESS].tracked() == frozenset()
