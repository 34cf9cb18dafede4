"""What the batch totals and "retry failed" take in: the app's status line, the tray and
``upload --json`` read the totals; the toolbar's "Retry failed" acts on the chosen server."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.engine.engine_support import free_port, item, server_files, text_file, wait_for
from toolbox_uploader.core.engine import Engine
from toolbox_uploader.core.events import BatchProgress, EngineEvent
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import ServerHandle

S = ItemState
MakeEngine = Callable[..., Engine]


def test_a_file_sent_again_after_its_deletion_counts_once(make_engine: MakeEngine,
                                                          live_server: ServerHandle,
                                                          tmp_path: Path) -> None:
    """Two files, one deleted on the server and dropped back: "2 of 2 files", not 3 of 3
    (the old row stays as history of the deleted copy)."""
    folder = tmp_path / "Week1"
    text_file(folder / "quiz.txt", 3000, seed=1)
    text_file(folder / "notes.txt", 2000, seed=2)
    url, token = live_server.url, live_server.token
    engine = make_engine(server_url=url, token=token)
    engine.add_paths([folder])
    assert engine.wait_idle(30), engine.snapshot()
    (quiz,) = [f for f in server_files(url, token) if f["filename"] == "quiz.txt"]
    deleted = httpx.delete(f"{url}/api/v1/files/{quiz['id']}",
                           headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert deleted.status_code == 204

    engine.add_paths([folder])
    wait_for(lambda: len(engine.snapshot()) == 3 and engine.wait_idle(0.1), 30,
             describe=engine.snapshot)  # the deleted copy's row stays, as history
    assert [s.state for s in engine.snapshot()] == [S.DONE] * 3

    lock = threading.Lock()
    batches: list[BatchProgress] = []

    def listener(events: list[EngineEvent]) -> None:
        with lock:
            batches.extend(e for e in events if isinstance(e, BatchProgress))

    engine.subscribe(listener)  # a new listener gets the totals as they are now
    wait_for(lambda: batches, 10)
    with lock:
        last = batches[0]
    assert (last.files_done, last.files_total) == (2, 2), last
    assert last.bytes_done == last.bytes_total == 5000, last
    assert len(server_files(url, token)) == 2


def test_retry_failed_leaves_the_files_of_another_server_waiting(
        make_engine: MakeEngine, live_server: ServerHandle, tmp_path: Path) -> None:
    """A file waiting for a server that is not the chosen one stays "not sent": retried, it
    would only move to "to do" and wait there for that server all the same."""
    away = text_file(tmp_path / "away.txt", 1000, seed=3)
    engine = make_engine(server_url=f"http://127.0.0.1:{free_port()}", token="t" * 32)
    engine.add_paths([away])
    wait_for(lambda: (s := item(engine, "away.txt")) and s.state is S.FAILED, 30,
             describe=engine.snapshot)
    engine.set_server(live_server.url, None, live_server.token)
    engine.retry_failed()
    here = text_file(tmp_path / "here.txt", 1000, seed=4)
    engine.add_paths([here])  # commands run in order: retry_failed has run once it is done
    wait_for(lambda: (s := item(engine, "here.txt")) and s.state is S.DONE, 30,
             describe=engine.snapshot)
    snap = item(engine, "away.txt")
    assert snap is not None and snap.state is S.FAILED, snap
