"""A retry saved while the laptop's clock was ahead (before it synced) must not wait for
the clock to catch up: the wait chosen then is what is left at most."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from tests.engine.engine_support import item, server_files, sha256, text_file, wait_for
from toolbox_uploader.core.session_store import SessionStore
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import ServerHandle

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
