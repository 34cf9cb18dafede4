"""The batch's speed is the speed of what is being sent now: nothing sending, no speed.

``upload --json`` prints the batch's speed and works out a time left from it; a speed kept
from before a pause (or from before the network went) told a time left for uploads that
were not moving at all."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.engine.engine_support import item, random_file, wait_for
from toolbox_uploader.core.engine import Engine
from toolbox_uploader.core.events import BatchProgress, EngineEvent
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import ServerHandle

S = ItemState
MB = 1_000_000


def test_no_speed_while_nothing_is_sending(make_engine: Callable[..., Engine],
                                          live_server: ServerHandle, tmp_path: Path) -> None:
    video = random_file(tmp_path / "assembly.bin", 20 * MB)
    engine = make_engine(server_url=live_server.url, token=live_server.token,
                         bandwidth_limit=4 * MB)
    lock = threading.Lock()
    seen: list[tuple[ItemState | None, BatchProgress]] = []

    def listener(batch: list[EngineEvent]) -> None:
        snap = item(engine, "assembly.bin")
        with lock:
            seen.extend((snap.state if snap else None, e) for e in batch
                        if isinstance(e, BatchProgress))

    engine.subscribe(listener)
    engine.add_paths([video], category="temporary")
    wait_for(lambda: (s := item(engine, "assembly.bin")) and s.bytes_sent > 3 * MB, 30,
             describe=engine.snapshot)
    wait_for(lambda: any(state is S.UPLOADING and b.speed > 0 for state, b in list(seen)), 10)
    engine.pause_all()
    wait_for(lambda: item(engine, "assembly.bin").state is S.PAUSED, 10,  # type: ignore[union-attr]
             describe=engine.snapshot)
    wait_for(lambda: any(state is S.PAUSED for state, _ in list(seen)), 10)
    with lock:
        paused = [b for state, b in seen if state is S.PAUSED]
    assert paused and all(b.speed == 0 and b.eta is None for b in paused), paused

    engine.resume_all()  # and it comes back once bytes move again
    wait_for(lambda: (s := item(engine, "assembly.bin")) and s.state is S.UPLOADING, 10)
    with lock:
        seen.clear()
    wait_for(lambda: any(state is S.UPLOADING and b.speed > 0 for state, b in list(seen)), 10)


def test_a_file_found_already_uploaded_adds_nothing_to_the_speed(
        make_engine: Callable[..., Engine], live_server: ServerHandle, tmp_path: Path) -> None:
    """Its bytes were not sent now: counted as speed, an 8 MB copy found on the server made
    a 0.5 MB/s upload look like 2 MB/s for seconds, and the time left four times too short."""
    first = random_file(tmp_path / "first" / "Term" / "video.bin", 8 * MB)
    engine = make_engine(server_url=live_server.url, token=live_server.token)
    engine.add_paths([first.parent], category="temporary")
    wait_for(lambda: (s := item(engine, "video.bin")) and s.state is S.DONE, 60,
             describe=engine.snapshot)

    limit = MB // 2
    engine.update_config(bandwidth_limit=limit)
    slow = random_file(tmp_path / "slow.bin", 8 * MB)
    lock = threading.Lock()
    speeds: list[float] = []

    def listener(batch: list[EngineEvent]) -> None:
        with lock:
            speeds.extend(e.speed for e in batch if isinstance(e, BatchProgress))

    engine.subscribe(listener)
    engine.add_paths([slow], category="temporary")
    wait_for(lambda: (s := item(engine, "slow.bin")) and s.bytes_sent > MB, 30,
             describe=engine.snapshot)
    again = tmp_path / "again" / "Term"
    again.mkdir(parents=True)
    (again / "video.bin").write_bytes(first.read_bytes())  # the same file, the same path
    engine.add_paths([again], category="temporary")
    wait_for(lambda: sum(1 for s in engine.snapshot()
                         if s.display_name == "video.bin" and s.state is S.DONE) == 2, 30,
             describe=engine.snapshot)
    with lock:
        speeds.clear()
    wait_for(lambda: len(speeds) >= 20, 10)  # two seconds of batches after it
    assert item(engine, "slow.bin").state is S.UPLOADING  # type: ignore[union-attr]
    with lock:
        fastest = max(speeds)
    assert fastest < 2 * limit, f"{fastest / MB:.1f} MB/s with a {limit / MB} MB/s limit"


def test_after_a_stop_the_time_left_waits_for_a_fresh_measurement(
        make_engine: Callable[..., Engine], live_server: ServerHandle, tmp_path: Path) -> None:
    """Resumed (or retried after an outage), the batch told a time left at once from the
    speed before the stop; a retry that failed again made "about 1 min left" flicker."""
    video = random_file(tmp_path / "assembly.bin", 20 * MB)
    engine = make_engine(server_url=live_server.url, token=live_server.token,
                         bandwidth_limit=4 * MB)
    lock = threading.Lock()
    seen: list[tuple[float, BatchProgress]] = []

    def listener(batch: list[EngineEvent]) -> None:
        now = time.monotonic()
        with lock:
            seen.extend((now, e) for e in batch if isinstance(e, BatchProgress))

    engine.subscribe(listener)
    engine.add_paths([video], category="temporary")
    wait_for(lambda: any(b.eta is not None for _, b in list(seen)), 30, describe=engine.snapshot)
    engine.pause_all()
    wait_for(lambda: item(engine, "assembly.bin").state is S.PAUSED, 10,  # type: ignore[union-attr]
             describe=engine.snapshot)
    with lock:
        seen.clear()
    resumed = time.monotonic()
    engine.resume_all()
    wait_for(lambda: any(b.eta is not None for _, b in list(seen)), 30, describe=engine.snapshot)
    with lock:
        first = min(when for when, b in seen if b.eta is not None)
    assert first - resumed >= 0.9  # a second of the new speed, not the old one
