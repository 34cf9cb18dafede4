"""A laptop that slept mid-upload: its connection died without a word (no reset ever
comes), and the request on it must not wait out its 30 s timeout after the wake-up.

The real engine and server, with the fault proxy between them black-holing one PATCH (it
stops reading it and never answers), and the process's wall clock moved ahead as a sleep
does: the engine sees the loop's clock fall behind, drops the silent request after a few
seconds and carries on from the server's offset on a new connection."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.engine.engine_support import item, random_file, server_files, sha256, wait_for
from tests.support.fault_proxy import ThreadedFaultProxy
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import ServerHandle

S = ItemState
MIB = 1024 * 1024


def test_a_request_on_a_connection_dead_after_sleep_is_retried_at_the_wake_up(
        make_engine, live_server: ServerHandle, black_hole: ThreadedFaultProxy,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    video = random_file(tmp_path / "lesson.bin", 3 * MIB)  # created first, then one PATCH
    engine = make_engine(server_url=black_hole.url, token=live_server.token)
    engine.add_paths([video], category="temporary")
    wait_for(lambda: black_hole.stats.stalls > 0, 20, describe=engine.snapshot)
    # The link is dead: nothing more gets through for 0.5 s (bounded: 100 looks of 0.05 s).
    before, still = -1, 0
    for _ in range(100):
        still = still + 1 if black_hole.stats.body_bytes == before else 0
        if still >= 10:
            break
        before = black_hole.stats.body_bytes
        time.sleep(0.05)
    assert still >= 10, "the black hole never closed"
    assert item(engine, video.name).state is S.UPLOADING
    connections = black_hole.stats.connections

    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3600.0)  # the lid opens an hour later
    woke = time.monotonic()
    done = wait_for(lambda: (s := item(engine, video.name)) and s.state is S.DONE and s, 9,
                    describe=engine.snapshot)
    assert time.monotonic() - woke < 9  # not the 30 s timeout (nor the 60 s black hole)
    assert black_hole.stats.connections > connections  # carried on over a new connection
    methods = black_hole.stats.methods
    assert "HEAD" in methods[methods.index("PATCH"):]  # asked for the server's offset
    assert done.bytes_sent == video.stat().st_size
    (stored,) = server_files(live_server.url, live_server.token)
    assert stored["sha256"] == sha256(video)
