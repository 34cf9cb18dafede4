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
from toolbox_uploader.core.session_store import SessionStore
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


def _waiting_for_a_retry(store_path: Path, server_key: str, path: Path, due_in: float) -> int:
    """A file an earlier run left failed, "next try in ``due_in`` s"."""
    store = SessionStore(store_path)
    st = path.stat()
    record = store.add(server_key=server_key, source_path=str(path), relative_path=path.name,
                       display_name=path.name, category="temporary", size=st.st_size,
                       mtime=st.st_mtime)
    store.transition(record.id, S.VALIDATING)
    store.transition(record.id, S.READY, validated_at=time.time())
    store.transition(record.id, S.UPLOADING)
    store.transition(record.id, S.FAILED, attempts=3, retryable=True, reason_code="offline",
                     reason_message="The server cannot be reached.",
                     next_attempt_at=time.time() + due_in)
    store.close()
    return record.id


def test_a_retry_that_falls_due_while_closing_stays_waiting(
        make_engine: MakeEngine, live_server: ServerHandle, stalling: ThreadedFaultProxy,
        tmp_path: Path) -> None:
    """Closing waits up to a second for a silent request; a retry falling due meanwhile
    must not turn the waiting row into a ready one (its wait and its reason would be lost,
    and ``upload --give-up-after`` would report a state the queue no longer holds)."""
    store_path = tmp_path / "queue.sqlite3"
    plan = random_file(tmp_path / "plan.bin", 2000)
    waiting_id = _waiting_for_a_retry(store_path, stalling.url, plan, due_in=5.0)
    sheet = random_file(tmp_path / "sheet.bin", 300_000)
    engine = make_engine(server_url=stalling.url, token=live_server.token,
                         store_path=store_path)
    engine.add_paths([sheet], category="temporary")
    wait_for(lambda: (s := item(engine, sheet.name)) and s.state is S.UPLOADING, 20,
             describe=engine.snapshot)
    wait_for(lambda: stalling.stats.stalls > 0, 10)
    (before,) = [s for s in engine.snapshot() if s.id == waiting_id]
    assert before.state is S.FAILED and before.next_attempt_at is not None
    left = before.next_attempt_at - time.time()
    assert left > 0.5, left  # else this machine is too slow for the test to mean anything
    # The retry falls due half-way through the stop, which waits a whole second (the
    # engine's grace) for the held request to wind down: half a second of margin each way.
    time.sleep(max(0.0, left - 0.5))

    engine.stop()
    assert time.time() > before.next_attempt_at  # it did fall due during the stop
    (after,) = [s for s in engine.snapshot() if s.id == waiting_id]
    assert after.state is S.FAILED and after.next_attempt_at == before.next_attempt_at
    store = SessionStore(store_path)
    try:
        record = store.get(waiting_id)
    finally:
        store.close()
    assert record is not None and record.state is S.FAILED
    assert record.next_attempt_at == before.next_attempt_at
    assert record.reason_message == "The server cannot be reached."
