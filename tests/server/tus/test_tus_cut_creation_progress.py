"""A creation-with-upload cut off by its client leaves no progress entry behind.

Such an upload is discarded (nobody has its address), but its progress was left in the
``ProgressHub``, which follows an upload until a final status: one more entry for good
for every cut request, memory that any account could grow by pausing small files."""

from __future__ import annotations

import asyncio
import time

import pytest
from conftest import Tus

from toolbox_uploader.server import keys


@pytest.mark.parametrize("length", [900_000, 8_000_000])  # held in memory / streamed
async def test_a_cut_creation_leaves_no_progress_entry(tus: Tus, length: int) -> None:
    app = tus.client.app
    hub = app[keys.PROGRESS]
    for _ in range(3):
        _, writer = await tus.open_raw("POST", tus.TUS, length, {
            "Upload-Length": str(length),
            "Upload-Metadata": tus.metadata({"filename": "plan.txt", "category": "temporary"}),
        })
        writer.write(b"x" * (length // 3))
        await writer.drain()
        await asyncio.sleep(0.2)  # the server has read (and published) some of it
        writer.close()
        await writer.wait_closed()
    deadline = time.monotonic() + 3  # the server notices each cut when it reads the end
    while hub.tracked() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert hub.tracked() == frozenset()
