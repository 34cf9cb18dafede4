"""The queue file deleted or replaced while the engine runs (a clean-up tool, a sync
client, a backup restored over it): SQLite would go on writing to the file it opened, which
no one can open again, and the next start would find an empty or an old queue. The engine
puts the queue back at its path within a second or so, and a file found there is kept aside."""

from __future__ import annotations

import logging
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.engine.engine_support import item, text_file, wait_for
from toolbox_uploader.core.session_store import SessionStore
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import ServerHandle

S = ItemState


def _stored(store_path: Path) -> dict[str, ItemState]:
    store = SessionStore(store_path)
    try:
        return {r.display_name: r.state for r in store.items()}
    finally:
        store.close()


def _done(engine, name: str) -> None:
    wait_for(lambda: (s := item(engine, name)) and s.state is S.DONE, 20,
             describe=engine.snapshot)


@pytest.mark.parametrize("with_log", [False, True], ids=["file", "file-wal-shm"])
def test_a_deleted_queue_file_is_written_again(
        with_log: bool, make_engine, live_server: ServerHandle, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    store_path = tmp_path / "queue.sqlite3"
    first = text_file(tmp_path / "docs" / "week1.txt", 3000)
    engine = make_engine(server_url=live_server.url, token=live_server.token,
                         store_path=store_path)
    engine.add_paths([first])
    _done(engine, "week1.txt")

    caplog.set_level(logging.WARNING)
    for suffix in ("", "-wal", "-shm") if with_log else ("",):
        Path(f"{store_path}{suffix}").unlink()
    # Noticed without waiting for a write: the file is back with what the queue holds.
    wait_for(store_path.exists, 5)
    second = text_file(tmp_path / "docs" / "week2.txt", 3000, seed=1)
    engine.add_paths([second])
    _done(engine, "week2.txt")
    engine.stop()

    assert _stored(store_path) == {"week1.txt": S.DONE, "week2.txt": S.DONE}
    assert "was deleted while in use" in caplog.text


def test_a_queue_file_replaced_by_an_old_copy_is_kept_aside(
        make_engine, live_server: ServerHandle, tmp_path: Path) -> None:
    store_path = tmp_path / "queue.sqlite3"
    engine = make_engine(server_url=live_server.url, token=live_server.token,
                         store_path=store_path)
    empty_copy = tmp_path / "backup.sqlite3"
    with sqlite3.connect(store_path) as source, sqlite3.connect(empty_copy) as target:
        source.backup(target)  # the queue as it was before anything was added
    sheet = text_file(tmp_path / "sheet.txt", 3000)
    engine.add_paths([sheet])
    _done(engine, "sheet.txt")

    restored = tmp_path / "restored.sqlite3"
    shutil.copyfile(empty_copy, restored)
    restored.replace(store_path)  # a backup restored over the queue in use
    wait_for(lambda: list(tmp_path.glob("queue.sqlite3.replaced-*")), 5)
    engine.stop()

    assert _stored(store_path) == {"sheet.txt": S.DONE}
    (aside,) = tmp_path.glob("queue.sqlite3.replaced-*")
    assert _stored(aside) == {}  # the file found in its place, kept as it was
