"""A retry saved while the laptop's clock was ahead (before it synced) must not wait for
the clock to catch up: the wait chosen then is what is left at most."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.engine.engine_support import (
    item,
    random_file,
    server_files,
    sha256,
    text_file,
    wait_for,
)
from toolbox_uploader.core.engine import Engine
from toolbox_uploader.core.events import ItemSnapshot
from toolbox_uploader.core.session_store import SessionStore
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.embedded import EmbeddedServer, ServerHandle

S = ItemState
DAY = 24 * 3600.0


def _waiting_item_saved_with_the_clock_ahead(store_path: Path, server_url: str,
                                             path: Path, ahead: float) -> None:
    """A queue as an engine left it after a failed try, "next try in 3 s", on a clock
    ``ahead`` seconds fast."""
    store = SessionStore(store_path)
    st = path.stat()
    record = store.add(server_key=server_url, source_path=str(path), relative_path=path.name,
                       display_name=path.name, category="educational_content",
                       size=st.st_size, mtime=st.st_mtime)
    store.transition(record.id, S.VALIDATING)
    store.transition(record.id, S.READY, validated_at=time.time(), sha256=sha256(path))
    store.transition(record.id, S.UPLOADING)
    store.transition(record.id, S.FAILED, attempts=1, retryable=True, reason_code="offline",
                     reason_message="Waiting for network, next try in 3 s.")
    store.close()
    then = time.time() + ahead
    with sqlite3.connect(store_path) as conn:
        conn.execute("UPDATE items SET updated_at = ?, next_attempt_at = ? WHERE id = ?",
                     (then, then + 3.0, record.id))


def test_a_retry_saved_on_a_fast_clock_comes_when_it_was_due(
        live_server: ServerHandle, tmp_path: Path, make_engine) -> None:
    path = text_file(tmp_path / "plan.txt", 6000)
    store_path = tmp_path / "queue.sqlite3"
    _waiting_item_saved_with_the_clock_ahead(store_path, live_server.url, path, ahead=2 * DAY)
    engine = make_engine(server_url=live_server.url, token=live_server.token,
                         store_path=store_path)
    waiting = wait_for(lambda: item(engine, "plan.txt"), 10)
    assert waiting.next_attempt_at is not None
    assert waiting.next_attempt_at < time.time() + 5  # the row tells the real wait
    wait_for(lambda: (s := item(engine, "plan.txt")) and s.state is S.DONE, 20,
             describe=engine.snapshot)
    (stored,) = server_files(live_server.url, live_server.token)
    assert stored["sha256"] == sha256(path)


# ---------------------------------------------------------------- a jump while the engine runs
#
# A laptop that sleeps stops the loop's clock (``time.monotonic``: the retry timers) but not
# the wall clock (``time.time``: a row's ``next_attempt_at``). These tests move the wall
# clock of the whole process, server included, as a wake-up or a clock set by hand does.

MIB = 1024 * 1024


@pytest.fixture
def one_room_server(tmp_path: Path) -> Iterator[ServerHandle]:
    """A server whose account holds one unfinished upload at most: a second file waits
    for the 429's ``Retry-After: 60``, a known wait (not a random backoff)."""
    server = EmbeddedServer(ServerConfig(data_dir=tmp_path / "server-data", host="127.0.0.1",
                                         port=0, max_unfinished_uploads=1))
    handle = server.start()
    try:
        yield handle
    finally:
        server.stop()


def _hold_the_only_room(server: ServerHandle) -> str:
    """One unfinished upload, as a run killed mid-file leaves; its URL."""
    response = httpx.post(f"{server.url}/api/v1/storage/tus/", headers={
        "Tus-Resumable": "1.0.0", "Authorization": f"Bearer {server.token}",
        "Upload-Length": "100", "Upload-Metadata": "filename eC50eHQ="}, timeout=10)
    assert response.status_code == 201, response.text
    return httpx.URL(f"{server.url}/api/v1/storage/tus/").join(
        response.headers["Location"]).__str__()


def _waiting_a_minute(engine: Engine, name: str) -> ItemSnapshot:
    return wait_for(lambda: (s := item(engine, name)) and s.state is S.FAILED
                    and s.next_attempt_at is not None and s, 30, describe=engine.snapshot)


def _set_clock(monkeypatch: pytest.MonkeyPatch, ahead: float) -> None:
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + ahead)


def test_a_retry_due_during_the_night_goes_when_the_laptop_wakes(
        one_room_server: ServerHandle, tmp_path: Path, make_engine,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The wait of a minute ended in the night: it goes at the wake-up, not a minute of
    loop time later, while its row says "retrying…"."""
    held = _hold_the_only_room(one_room_server)
    path = random_file(tmp_path / "assembly.bin", 2 * MIB)  # created first, then PATCHed
    engine = make_engine(server_url=one_room_server.url, token=one_room_server.token)
    engine.add_paths([path], category="temporary")
    waiting = _waiting_a_minute(engine, "assembly.bin")
    assert waiting.next_attempt_at is not None and waiting.next_attempt_at > time.time() + 50
    httpx.delete(held, headers={"Tus-Resumable": "1.0.0",
                                "Authorization": f"Bearer {one_room_server.token}"},
                 timeout=10).raise_for_status()  # room again overnight
    _set_clock(monkeypatch, 8 * 3600.0)  # the lid opens eight hours later
    wait_for(lambda: (s := item(engine, "assembly.bin")) and s.state is S.DONE, 15,
             describe=engine.snapshot)
    (stored,) = server_files(one_room_server.url, one_room_server.token)
    assert stored["sha256"] == sha256(path)


def test_a_clock_set_back_shows_the_wait_that_is_left(
        one_room_server: ServerHandle, tmp_path: Path, make_engine,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A clock that was an hour fast is set right while a file waits: the row must not
    say "retry at" an hour away for a wait of a minute."""
    _hold_the_only_room(one_room_server)
    path = random_file(tmp_path / "assembly.bin", 2 * MIB)
    engine = make_engine(server_url=one_room_server.url, token=one_room_server.token)
    engine.add_paths([path], category="temporary")
    _waiting_a_minute(engine, "assembly.bin")
    _set_clock(monkeypatch, -3600.0)
    shown = wait_for(lambda: (s := item(engine, "assembly.bin")) and s.next_attempt_at
                     and s.next_attempt_at < time.time() + 65 and s, 5,
                     describe=engine.snapshot)
    assert shown.state is S.FAILED  # still waiting: the server has no room yet
