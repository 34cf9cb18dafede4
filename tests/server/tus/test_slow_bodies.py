"""A body that only drips is cut (408), however often it sends a byte, and keeps what came.

The idle timeout alone never ends a body that sends one byte just before each timeout;
``body_pace`` asks for at least 1 KiB per window of the idle timeout's length."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from toolbox_uploader.server import keys
from toolbox_uploader.server.body_pace import MIN_BYTES, BodyPace

if TYPE_CHECKING:
    from tests.server.tus.conftest import Tus

IDLE = 0.5  # each drip comes well within it


async def _drip(data: bytes, every: float = 0.1) -> AsyncIterator[bytes]:
    """``data`` a byte at a time; at most 200 bytes, so at most 20 s."""
    for n in range(min(len(data), 200)):
        yield data[n:n + 1]
        await asyncio.sleep(every)


def test_the_pace_counts_whole_windows() -> None:
    now = [0.0]
    pace = BodyPace(60.0, clock=lambda: now[0])
    pace.add(10)
    now[0] = 59.0
    assert not pace.too_slow()  # the first window is not over
    pace.add(MIN_BYTES)
    now[0] = 61.0
    assert not pace.too_slow()  # enough in that window; a new one starts
    pace.add(MIN_BYTES - 1)
    now[0] = 120.0
    assert not pace.too_slow()
    now[0] = 121.5
    assert pace.too_slow()
    assert pace.describe() == "under 1 KiB in 60 s"


async def test_a_dripping_patch_is_cut_and_keeps_its_bytes(tus: Tus) -> None:
    tus.client.app[keys.CONFIG].options["tus_idle_timeout"] = IDLE
    data = tus.text(5000)
    url = await tus.create(len(data), {"filename": "drip.txt", "category": "temporary"})
    started = time.monotonic()
    resp = await tus.patch(url, 0, _drip(data), expect=408)  # type: ignore[arg-type]
    assert time.monotonic() - started < 10
    body = await resp.json()
    assert body["error"] == "too_slow"
    assert "under 1 KiB in 0.5 s" in body["message"]
    kept = int((await tus.head(url)).headers["Upload-Offset"])
    assert 0 < kept < 200
    # The rest, sent at a normal pace, completes the file with the right bytes.
    await tus.patch(url, kept, data[kept:])
    stored = await tus.client.get(f"/api/v1/files/{tus.upload_id(url)}/content",
                                  headers=tus.headers())
    assert await stored.read() == data


async def test_a_dripping_creation_with_upload_stays_resumable(tus: Tus) -> None:
    tus.client.app[keys.CONFIG].options["tus_idle_timeout"] = IDLE
    data = tus.text(3000)
    resp = await tus.client.post(tus.TUS, data=_drip(data), headers=tus.headers({
        "Upload-Length": str(len(data)), "Content-Type": tus.OCTET,
        "Upload-Metadata": tus.metadata({"filename": "drip.txt", "category": "temporary"})}))
    assert resp.status == 408, await resp.text()
    url = tus.rel(resp.headers["Location"])
    kept = int((await tus.head(url)).headers["Upload-Offset"])
    assert 0 < kept < 200
    await tus.patch(url, kept, data[kept:])


async def test_a_slow_but_real_body_is_not_cut(tus: Tus) -> None:
    """2 KiB per half second (4 KiB/s) over two seconds: slow, not a drip."""
    tus.client.app[keys.CONFIG].options["tus_idle_timeout"] = IDLE
    data = tus.text(16 * 1024)

    async def slow() -> AsyncIterator[bytes]:
        for at in range(0, len(data), 512):
            yield data[at:at + 512]
            await asyncio.sleep(0.125)

    url = await tus.create(len(data), {"filename": "slow.txt", "category": "temporary"})
    await tus.patch(url, 0, slow())  # type: ignore[arg-type]
