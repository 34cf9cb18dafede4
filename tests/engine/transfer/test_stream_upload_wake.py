"""``upload -`` on a laptop that slept mid-upload: its connection died without a word (no
reset ever comes), and the PATCH on it must not wait out its 30 s timeout after the wake-up.

The real server, with the fault proxy between it and the stream black-holing one PATCH (it
stops reading it and never answers), and the process's wall clock moved ahead as a sleep
does: the stream sees the loop's clock fall behind, drops the silent request and carries
on from the server's offset on a new connection."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import time
from collections.abc import Callable

import pytest

from tests.support.fault_proxy import ThreadedFaultProxy
from toolbox_uploader.core import stream_upload as stream_module
from toolbox_uploader.core.stream_upload import stream_upload
from toolbox_uploader.server.embedded import ServerHandle

MIB = 1024 * 1024


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout} s")


async def test_a_stream_on_a_connection_dead_after_sleep_goes_on_at_the_wake_up(
        live_server: ServerHandle, black_hole: ThreadedFaultProxy,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_module, "WAKE_GRACE", 0.5)  # 3 s in use: a shorter test
    data = os.urandom(3 * MIB)
    streaming = asyncio.ensure_future(stream_upload(
        io.BytesIO(data), server_url=black_hole.url, endpoint=None, token=live_server.token,
        name="recording.bin", category="temporary", give_up_after=30))
    try:
        await until(lambda: black_hole.stats.stalls > 0, 10, "the black hole")
        # The link is dead: nothing more gets through for 0.5 s.
        before, still = -1, 0
        for _ in range(100):
            still = still + 1 if black_hole.stats.body_bytes == before else 0
            if still >= 10:
                break
            before = black_hole.stats.body_bytes
            await asyncio.sleep(0.05)
        assert still >= 10, "the black hole never closed"
        assert not streaming.done()
        connections = black_hole.stats.connections

        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() + 3600.0)  # the lid opens an hour later
        woke = time.monotonic()
        result = await asyncio.wait_for(streaming, 8)  # not the 30 s timeout
        assert time.monotonic() - woke < 8
    finally:
        streaming.cancel()
    assert black_hole.stats.connections > connections  # carried on over a new connection
    methods = black_hole.stats.methods
    assert "HEAD" in methods[methods.index("PATCH"):]  # asked for the server's offset
    assert result["size"] == len(data)
    assert result["sha256"] == hashlib.sha256(data).hexdigest()
    assert result["started_over"] is False
