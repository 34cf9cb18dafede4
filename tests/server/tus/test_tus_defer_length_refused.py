"""A refused PATCH does not fix a deferred length: the client may still say the right one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.server.tus.conftest import Tus


async def test_a_length_sent_with_a_refused_body_is_not_kept(tus: Tus) -> None:
    url = await tus.create(None, {"filename": "d.txt", "category": "temporary"})
    data = tus.text(10)
    await tus.patch(url, 0, data, expect=413, Upload_Length="5")
    head = await tus.head(url)
    assert head.headers.get("Upload-Defer-Length") == "1"
    assert "Upload-Length" not in head.headers
    await tus.patch(url, 0, data, Upload_Length="10")
    head = await tus.head(url)
    assert head.headers["Upload-Offset"] == head.headers["Upload-Length"] == "10"


async def test_a_length_sent_with_a_chunked_body_past_it_is_not_kept(tus: Tus) -> None:
    url = await tus.create(None, {"filename": "e.txt", "category": "temporary"})
    data = tus.text(10)

    async def body() -> AsyncIterator[bytes]:
        yield data[:5]
        await asyncio.sleep(0.05)
        yield data[5:]

    await tus.patch(url, 0, body(), expect=413, Upload_Length="5")
    head = await tus.head(url)
    assert (head.headers["Upload-Offset"], head.headers.get("Upload-Defer-Length")) == ("0", "1")
    await tus.patch(url, 0, data, Upload_Length="10")
