"""A pause, a cancel or the app closing does not wait for a server that has gone silent.

The real engine and server, with a pass-through proxy on loopback between them that holds
every request for 20 s before passing it on (a server that stopped answering)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.engine.engine_support import item, random_file, wait_for
from tests.support.fault_proxy import ThreadedFaultProxy
from toolbox_uploader.core.engine import Engine
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import ServerHandle

S = ItemState
MakeEngine = Callable[..., Engine]
HELD = 20.0  # the proxy holds each request this long; every stop must be far quicker


@pytest.fixture
def stalling(live_server: ServerHandle) -> Iterator[ThreadedFaultProxy]:
    port = urlsplit(live_server.url).port
    assert port is not None
    with ThreadedFaultProxy("127.0.0.1", port, stall=1.0, stall_seconds=HELD) as proxy:
        yield proxy


@pytest.mark.parametrize("command", ["pause", "cancel"])
def test_a_row_stops_at_once_while_its_server_is_silent(
        command: str, make_engine: MakeEngine, live_server: ServerHandle,
        stalling: ThreadedFaultProxy, tmp_path: Path) -> None:
    sheet = random_file(tmp_path / "sheet.bin", 300_000)
    engine = make_engine(server_url=stalling.url, token=live_server.token)
    engine.add_paths([sheet], category="temporary")
    snap = wait_for(lambda: (s := item(engine, sheet.name)) and s.state is S.UPLOADING and s,
                    20, describe=engine.snapshot)
    wait_for(lambda: stalling.stats.stalls > 0, 10)  # its first request is being held

    started = time.monotonic()
    getattr(engine, command)([snap.id])
    wanted = S.PAUSED if command == "pause" else S.CANCELLED
    wait_for(lambda: (s := item(engine, sheet.name)) and s.state is wanted, HELD / 4,
             describe=engine.snapshot)
    assert time.monotonic() - started < HELD / 4


def test_closing_does_not_wait_for_a_silent_server(
        make_engine: MakeEngine, live_server: ServerHandle, stalling: ThreadedFaultProxy,
        tmp_path: Path) -> None:
    sheet = random_file(tmp_path / "sheet.bin", 300_000)
    engine = make_engine(server_url=stalling.url, token=live_server.token)
    engine.add_paths([sheet], category="temporary")
    wait_for(lambda: (s := item(engine, sheet.name)) and s.state is S.UPLOADING, 20,
             describe=engine.snapshot)
    wait_for(lambda: stalling.stats.stalls > 0, 10)

    started = time.monotonic()
    engine.stop()
    assert time.monotonic() - started < HELD / 4
    assert item(engine, sheet.name).state is S.READY  # resumable at the next start


@pytest.mark.parametrize("command", ["pause", "cancel"])
def test_a_stop_while_the_file_is_checked_lets_the_check_finish(
        command: str, make_engine: MakeEngine, live_server: ServerHandle,
        tmp_path: Path) -> None:
    """Every byte is on the server; only its record is being read (slowly here). There is
    no way back from verifying but done or failed, so the stop is not forced through."""
    port = urlsplit(live_server.url).port
    assert port is not None
    video = random_file(tmp_path / "video.bin", 12 * 1024 * 1024)
    with ThreadedFaultProxy("127.0.0.1", port, stall=1.0, stall_seconds=3.0,
                            methods={"GET"}) as slow_reads:
        engine = make_engine(server_url=slow_reads.url, token=live_server.token)
        engine.add_paths([video], category="temporary")
        snap = wait_for(lambda: (s := item(engine, video.name)) and s.state is S.VERIFYING
                        and s, 60, describe=engine.snapshot)
        getattr(engine, command)([snap.id])
        assert engine.wait_idle(20)
        assert item(engine, video.name).state is S.DONE  # type: ignore[union-attr]
