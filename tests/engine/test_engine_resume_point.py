"""Where an upload carries on from, as the rows show it ("Resumed at …"): the offset the
server reported, never a count kept locally; and a rate-limited link sends chunks short
enough that a pause loses seconds, not the whole upload so far. Real engine and server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from tests.engine.engine_support import item, random_file, wait_for
from toolbox_uploader.core.engine import Engine
from toolbox_uploader.core.events import EngineEvent, ItemChanged, ItemSnapshot
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import ServerHandle

S = ItemState
MIB = 1024 * 1024


def _server_offset(server: ServerHandle, url: str) -> int:
    response = httpx.head(url, headers={"Tus-Resumable": "1.0.0",
                                        "Authorization": f"Bearer {server.token}"})
    return int(response.headers["Upload-Offset"])


def test_resumed_from_is_the_servers_offset_and_only_after_a_pick_up(
        make_engine: Callable[..., Engine], live_server: ServerHandle, tmp_path: Path) -> None:
    video = random_file(tmp_path / "lesson.bin", 16 * MIB)
    engine = make_engine(server_url=live_server.url, token=live_server.token,
                         bandwidth_limit=MIB)
    seen: list[ItemSnapshot] = []

    def listen(events: list[EngineEvent]) -> None:
        seen.extend(e.item for e in events if isinstance(e, ItemChanged))

    engine.subscribe(listen)
    engine.add_paths([video], category="temporary")
    # At 1 MiB/s the first chunk is 1 MiB (1 s), the next 3 MiB: past them, the server has
    # confirmed them.
    wait_for(lambda: (s := item(engine, video.name)) and s.bytes_sent > 4.5 * MIB, 20,
             describe=engine.snapshot)
    engine.pause([item(engine, video.name).id])
    paused = wait_for(lambda: (s := item(engine, video.name)) and s.state is S.PAUSED and s,
                      10, describe=engine.snapshot)
    assert all(s.resumed_from is None for s in seen)  # a fresh upload is not "resumed"
    on_server = _server_offset(live_server, paused.upload_url)
    assert MIB <= on_server < 16 * MIB  # the first chunk was kept, not thrown away

    seen.clear()
    engine.update_config(bandwidth_limit=4 * MIB)
    engine.resume([paused.id])
    # The row says so once the server has told where it stands (HEAD), then all along.
    wait_for(lambda: any(s.resumed_from for s in seen), 10, describe=lambda: seen)
    picked_up = {s.resumed_from for s in seen if s.resumed_from is not None}
    assert picked_up == {on_server}, picked_up
    done = wait_for(lambda: (s := item(engine, video.name)) and s.state is S.DONE and s, 30,
                    describe=engine.snapshot)
    assert done.upload_url == paused.upload_url and done.resumed_from is None
