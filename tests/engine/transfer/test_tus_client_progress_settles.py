"""Progress after a cut request is what the server holds, not what left.

A chunk cut by a pause (or a dropped connection) is sent again whole, so its bytes that had
left are not kept: the last progress reported must be the offset a resume starts from.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from tests.support.scripted_tus import ScriptedTus
from toolbox_uploader.core.hashing import HashState
from toolbox_uploader.core.rate_limit import RateLimiter
from toolbox_uploader.core.strategy import MIB, ChunkSizer
from toolbox_uploader.core.tus_client import TusClient

SIZE = 3 * MIB


async def test_a_pause_reports_the_server_offset_last(scripted_tus: ScriptedTus,
                                                      tmp_path: Path) -> None:
    source = tmp_path / "lesson.bin"
    source.write_bytes(os.urandom(SIZE))
    cancel = asyncio.Event()
    seen: list[int] = []

    def on_progress(position: int) -> None:
        seen.append(position)
        if position > MIB + MIB // 4:  # a quarter into the second chunk
            cancel.set()

    async with TusClient(scripted_tus.url) as client:
        url, _ = await client.create(length=SIZE, metadata={"filename": "x"})
        offset = await client.upload_file(
            url, source, offset=0, length=SIZE, hasher=HashState(), on_progress=on_progress,
            chunk_sizer=ChunkSizer(initial=MIB, minimum=MIB, maximum=MIB), cancel=cancel,
            limiter=RateLimiter(2 * MIB),
        )
        held = (await client.head(url)).offset
    assert max(seen) > held  # bytes left that the server did not keep: the case at hand
    assert offset == held == seen[-1], (offset, held, seen[-3:])
