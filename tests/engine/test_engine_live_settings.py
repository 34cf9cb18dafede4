"""Settings changed while the engine runs: they apply to the uploads in flight, which carry
on (same tus upload, nothing re-sent), and a change of server leaves the old server's
uploads resumable instead of failing them. The real engine against real servers."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.engine.engine_support import item, random_file, server_files, sha256, wait_for
from toolbox_uploader.core.engine import Engine
from toolbox_uploader.core.events import EngineEvent, ItemChanged
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import ServerHandle

S = ItemState
MIB = 1024 * 1024
MakeEngine = Callable[..., Engine]


def _states_of(engine: Engine, name: str) -> list[ItemState]:
    """Every state the named item is reported in from now on (engine thread appends)."""
    seen: list[ItemState] = []

    def listen(events: list[EngineEvent]) -> None:
        seen.extend(e.item.state for e in events
                    if isinstance(e, ItemChanged) and e.item.display_name == name)

    engine.subscribe(listen)
    return seen


def _sent(engine: Engine, name: str) -> int:
    snap = item(engine, name)
    return snap.bytes_sent if snap is not None else 0


def _uploading(engine: Engine, name: str, at_least: int = 0) -> bool:
    snap = item(engine, name)
    return bool(snap and snap.state is S.UPLOADING and snap.bytes_sent >= at_least)


def test_a_new_bandwidth_limit_paces_the_upload_in_flight(
        make_engine: MakeEngine, live_server: ServerHandle, tmp_path: Path) -> None:
    video = random_file(tmp_path / "assembly.bin", 40 * MIB)
    engine = make_engine(server_url=live_server.url, token=live_server.token,
                         bandwidth_limit=8 * MIB)
    engine.add_paths([video], category="temporary")
    wait_for(lambda: _uploading(engine, video.name, MIB), 20, describe=engine.snapshot)
    url = item(engine, video.name).upload_url
    states = _states_of(engine, video.name)

    engine.update_config(bandwidth_limit=MIB)
    assert engine.config.bandwidth_limit == MIB  # visible at once
    time.sleep(0.8)  # the piece already paid for at the old rate goes out
    before = _sent(engine, video.name)
    time.sleep(1.5)
    slowed = _sent(engine, video.name) - before
    # 1.5 s at 1 MiB/s (at the old 8 MiB/s it would be 12 MiB), plus one piece in hand.
    assert 0 < slowed < 3.5 * MIB, slowed

    engine.update_config(bandwidth_limit=None)  # lifted: the rest goes at loopback speed
    done = wait_for(lambda: (s := item(engine, video.name)) and s.state is S.DONE and s, 20,
                    describe=engine.snapshot)
    assert done.upload_url == url  # the same upload all along, never restarted
    assert S.PAUSED not in states and S.READY not in states and S.FAILED not in states
    assert [f["sha256"] for f in server_files(live_server.url, live_server.token)] == [
        sha256(video)]


def test_more_uploads_at_a_time_start_at_once(
        make_engine: MakeEngine, live_server: ServerHandle, tmp_path: Path) -> None:
    files = [random_file(tmp_path / f"clip-{n}.bin", 12 * MIB) for n in range(3)]
    engine = make_engine(server_url=live_server.url, token=live_server.token, concurrency=1,
                         bandwidth_limit=2 * MIB)
    engine.add_paths(files, category="temporary")
    # Whichever was checked first goes first.
    wait_for(lambda: any(_uploading(engine, f.name, 256 * 1024) for f in files), 20,
             describe=engine.snapshot)
    time.sleep(0.5)
    assert sum(_uploading(engine, f.name) for f in files) == 1  # one at a time so far

    engine.update_config(concurrency=3)
    wait_for(lambda: all(_uploading(engine, f.name) for f in files), 10,
             describe=engine.snapshot)
    engine.update_config(bandwidth_limit=None)
    assert engine.wait_idle(30)
    assert sorted(f["sha256"] for f in server_files(live_server.url, live_server.token)) == \
        sorted(sha256(f) for f in files)


def test_only_upload_settings_change_while_running(make_engine: MakeEngine,
                                                   live_server: ServerHandle) -> None:
    engine = make_engine(server_url=live_server.url, token=live_server.token)
    with pytest.raises(ValueError, match="server_url"):
        engine.update_config(server_url="http://127.0.0.1:9", concurrency=5)
    assert engine.config.server_url == live_server.url and engine.config.concurrency == 3


def test_choosing_another_server_mid_upload_leaves_it_resumable(
        make_engine: MakeEngine, live_server: ServerHandle, other_server: ServerHandle,
        tmp_path: Path) -> None:
    video = random_file(tmp_path / "lesson.bin", 24 * MIB)
    engine = make_engine(server_url=live_server.url, token=live_server.token,
                         server_key="school", bandwidth_limit=4 * MIB)
    engine.add_paths([video], category="temporary")
    wait_for(lambda: _uploading(engine, video.name, 2 * MIB), 20, describe=engine.snapshot)
    url = item(engine, video.name).upload_url
    states = _states_of(engine, video.name)

    engine.set_server(other_server.url, None, other_server.token, "home")
    waiting = wait_for(lambda: (s := item(engine, video.name)) and s.state is S.READY and s,
                       10, describe=engine.snapshot)
    assert waiting.server == "school" and waiting.upload_url == url
    assert S.FAILED not in states, states  # stopped on purpose, not a network error

    sheet = random_file(tmp_path / "rota.bin", 300_000)
    engine.update_config(bandwidth_limit=None)
    engine.add_paths([sheet], category="temporary")  # goes to the server chosen now
    assert engine.wait_idle(20)
    assert [f["relative_path"] for f in server_files(other_server.url, other_server.token)] == \
        ["rota.bin"]
    assert item(engine, video.name).state is S.READY  # waits for its own server

    engine.set_server(live_server.url, None, live_server.token, "school")
    done = wait_for(lambda: (s := item(engine, video.name)) and s.state is S.DONE and s, 20,
                    describe=engine.snapshot)
    assert done.upload_url == url  # carried on where the school server had got to
    assert [f["sha256"] for f in server_files(live_server.url, live_server.token)] == [
        sha256(video)]
