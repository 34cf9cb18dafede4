"""``Engine.start()`` after ``stop()`` on the same object: a fresh run from the store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from toolbox_uploader.core.engine import Engine
from toolbox_uploader.server.embedded import ServerHandle


def test_a_drop_still_being_read_at_stop_does_not_keep_the_next_run_busy(
        make_engine: Callable[..., Engine], live_server: ServerHandle, tmp_path: Path) -> None:
    folder = tmp_path / "Archive"
    for n in range(20_000):  # long enough to read that stop() comes first
        path = folder / f"year-{n // 1000:02d}" / f"sheet-{n:05d}.txt"
        if n % 1000 == 0:
            path.parent.mkdir(parents=True)
        path.write_bytes(b"worksheet\n")
    engine = make_engine(server_url=live_server.url, token=live_server.token)
    engine.add_paths([folder])
    engine.stop()
    assert engine.snapshot() == []  # the walk had not ended: nothing was queued
    engine.start()
    assert engine.wait_idle(5), "an empty queue must be idle"
