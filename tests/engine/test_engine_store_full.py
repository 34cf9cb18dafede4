"""The queue file refusing writes (disk full, made read-only) while uploads run: the
uploads go on, every row ends right, the file catches up once it can be written, and
listeners are told meanwhile (files can be neither added nor removed then)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.engine.engine_support import random_file, server_files, sha256, text_file, wait_for
from toolbox_uploader.core.engine import QUEUE_NOT_SAVED, Engine
from toolbox_uploader.core.events import EngineEvent, QueueStatus
from toolbox_uploader.core.session_store import SessionStore
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import ServerHandle

S = ItemState
MIB = 1024 * 1024


@contextmanager
def _store_refusing_writes(engine: Engine) -> Iterator[None]:
    """SQLite itself refuses every write on the engine's connection ("attempt to write a
    readonly database"), as it does on a full disk."""
    store = engine.store
    with store._lock:
        store._conn.execute("PRAGMA query_only = 1")
    try:
        yield
    finally:
        with store._lock:
            store._conn.execute("PRAGMA query_only = 0")


def test_uploads_finish_while_the_queue_cannot_be_saved(
        live_server: ServerHandle, tmp_path: Path, make_engine) -> None:
    folder = tmp_path / "Week 3"
    files = [text_file(folder / f"sheet{n}.txt", 150_000, seed=n) for n in range(8)]
    files.append(random_file(folder / "film.bin", 12 * MIB))
    engine = make_engine(server_url=live_server.url, token=live_server.token,
                         bandwidth_limit=4 * MIB, concurrency=2)
    engine.add_paths([folder], category="temporary")
    wait_for(lambda: any(s.state is S.UPLOADING and s.bytes_sent > 0
                         for s in engine.snapshot()), 20, describe=engine.snapshot)
    with _store_refusing_writes(engine):
        # Everything moves on from memory: nothing stays "uploading" after its bytes went.
        wait_for(lambda: len(engine.snapshot()) == len(files)
                 and all(s.state is S.DONE for s in engine.snapshot()), 30,
                 describe=lambda: [(s.display_name, s.state) for s in engine.snapshot()])
    assert engine.wait_idle(10)
    store_path = engine.config.store_path
    engine.stop()  # what could not be saved then is written by now

    store = SessionStore(store_path)
    try:
        assert [(r.display_name, r.state) for r in store.items()] == [
            (s.display_name, S.DONE) for s in sorted(engine.snapshot(), key=lambda s: s.id)]
    finally:
        store.close()
    stored = {f["filename"]: f["sha256"] for f in server_files(live_server.url,
                                                                live_server.token)}
    assert stored == {p.name: sha256(p) for p in files}


def test_the_queue_file_catches_up_while_the_engine_runs(
        live_server: ServerHandle, tmp_path: Path, make_engine) -> None:
    files = [text_file(tmp_path / "Unit" / f"notes{n}.txt", 4000, seed=n) for n in range(3)]
    engine = make_engine(server_url=live_server.url, token="wrong-token-0000000000")
    engine.add_paths([tmp_path / "Unit"])
    # Waiting for a sign-in: checked, nothing sent.
    wait_for(lambda: len(engine.snapshot()) == 3 and engine.wait_idle(0.1), 20,
             describe=engine.snapshot)

    def states_on_disk() -> list[str]:
        with engine.store._lock:
            rows = engine.store._conn.execute("SELECT state FROM items ORDER BY id").fetchall()
        return [r[0] for r in rows]

    told = _queue_news(engine)
    with _store_refusing_writes(engine):
        engine.set_server(live_server.url, None, live_server.token)
        wait_for(lambda: all(s.state is S.DONE for s in engine.snapshot()), 20,
                 describe=engine.snapshot)
        assert "done" not in states_on_disk()  # the file really refused them
        wait_for(lambda: told == [QueueStatus(False, QUEUE_NOT_SAVED)], 5, describe=lambda: told)
    wait_for(lambda: states_on_disk() == ["done"] * len(files), 10)
    assert len(server_files(live_server.url, live_server.token)) == len(files)
    wait_for(lambda: told[-1:] == [QueueStatus(True)], 5, describe=lambda: told)


def _queue_news(engine: Engine) -> list[QueueStatus]:
    """The ``QueueStatus`` events a listener gets from now on, in order."""
    told: list[QueueStatus] = []

    def listen(batch: list[EngineEvent]) -> None:
        told.extend(e for e in batch if isinstance(e, QueueStatus))

    engine.subscribe(listen)
    return told


def test_adding_or_removing_while_the_queue_cannot_be_saved_waits_for_it(
        live_server: ServerHandle, tmp_path: Path, make_engine) -> None:
    """Asked once, done once the queue can be saved: nobody has to notice and ask again."""
    sent = text_file(tmp_path / "sent.txt", 3000)
    engine = make_engine(server_url=live_server.url, token=live_server.token)
    engine.add_paths([sent])
    wait_for(lambda: [s.state for s in engine.snapshot()] == [S.DONE], 20,
             describe=engine.snapshot)
    (done,) = engine.snapshot()
    told = _queue_news(engine)
    later = text_file(tmp_path / "later.txt", 3000, seed=2)
    with _store_refusing_writes(engine):
        engine.add_paths([later])
        wait_for(lambda: told == [QueueStatus(False, QUEUE_NOT_SAVED)], 10,
                 describe=lambda: told)
        engine.remove([done.id])
        assert engine.wait_idle(5)
        time.sleep(1.5)  # past the first retry of both: refused again, still waiting
        assert [s.id for s in engine.snapshot()] == [done.id]  # kept, as the file says
        assert told == [QueueStatus(False, QUEUE_NOT_SAVED)]  # said once

    # The disk has room again: the drop is added and the row removed by themselves.
    wait_for(lambda: [s.display_name for s in engine.snapshot()] == ["later.txt"], 40,
             describe=engine.snapshot)
    wait_for(lambda: told[-1] == QueueStatus(True), 10, describe=lambda: told)
    assert "sent.txt" in [f["filename"] for f in server_files(live_server.url,
                                                               live_server.token)]


def test_a_queue_file_locked_by_another_program_is_said_and_waited_out(
        live_server: ServerHandle, tmp_path: Path, make_engine) -> None:
    """Another program (a backup tool, an admin's sqlite3 shell) holds the queue file
    locked: each write used to wait SQLite's 30 s on the engine's loop, freezing every
    upload, and the teacher was told to look for a full disk."""
    import sqlite3

    from toolbox_uploader.core.engine import QUEUE_LOCKED

    engine = make_engine(server_url=live_server.url, token=live_server.token)
    news: list[QueueStatus] = []
    engine.subscribe(lambda batch: news.extend(e for e in batch if isinstance(e, QueueStatus)))
    other = sqlite3.connect(engine.config.store_path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        sheet = text_file(tmp_path / "rota.txt", 3000)
        started = time.monotonic()
        engine.add_paths([sheet])
        wait_for(lambda: any(not n.saved for n in news), 15)
        assert time.monotonic() - started < 10  # not 30 s per write
        assert next(n.message for n in news if not n.saved) == QUEUE_LOCKED
    finally:
        other.execute("ROLLBACK")
        other.close()
    # The lock gone, the drop is queued again by itself and sent.
    wait_for(lambda: any(s.state is S.DONE for s in engine.snapshot()), 60,
             describe=engine.snapshot)
    assert [f["sha256"] for f in server_files(live_server.url, live_server.token)] == [
        sha256(sheet)]
