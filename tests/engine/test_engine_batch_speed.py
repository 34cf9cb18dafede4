"""The batch's speed is the speed of what is being sent now: nothing sending, no speed.

``upload --json`` prints the batch's speed and works out a time left from it; a speed kept
from before a pause (or from before the network went) told a time left for uploads that
were not moving at all."""

from __future__ import annotations

import threading
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
