"""The session store: transitions enforced and saved, migrations, crash-safe reopening."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from toolbox_uploader.core.events import Reason
from toolbox_uploader.core.session_store import (
    SCHEMA_VERSION,
    SessionStore,
    StoreError,
    rebase_upload_url,
    relative_upload_path,
)
from toolbox_uploader.core.states import InvalidTransition, ItemState

S = ItemState


def _add(store: SessionStore, name: str = "a.pdf") -> int:
    return store.add(server_key="local", source_path=f"/src/{name}", relative_path=name,
                     display_name=name, category="educational_content", size=10,
                     mtime=1.0).id


def test_walks_the_happy_path_and_persists_each_step(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "s.sqlite3")
    item = _add(store)
    for state in (S.VALIDATING, S.READY, S.UPLOADING, S.VERIFYING, S.DONE):
        store.transition(item, state)
        assert SessionStore(tmp_path / "s.sqlite3").get(item).state is state
    record = store.get(item)
    assert record is not None and record.finished_at is not None


def test_transition_table_is_enforced_and_nothing_is_written(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "s.sqlite3")
    item = _add(store)
    with pytest.raises(InvalidTransition):
        store.transition(item, S.DONE)  # queued -> done is not in the table
    store.transition(item, S.VALIDATING)
    store.transition(item, S.REJECTED, reason_code="type", reason_message="no")
    with pytest.raises(InvalidTransition):
        store.transition(item, S.UPLOADING, upload_offset=5)
    record = store.get(item)
    assert record is not None
    assert record.state is S.REJECTED and record.upload_offset == 0
    assert record.reason == Reason("type", "no")


def test_fields_round_trip(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "s.sqlite3")
    item = _add(store)
    store.update(item, warnings=[Reason("w", "careful")], retryable=True, upload_offset=7,
                 prefix_sha256="ab", prefix_offset=7, upload_path="abc123")
    record = SessionStore(tmp_path / "s.sqlite3").get(item)
    assert record is not None
    assert record.warnings == [Reason("w", "careful")]
    assert record.retryable is True and record.upload_offset == 7
    assert record.upload_path == "abc123"
    with pytest.raises(StoreError):
        store.update(item, state=S.DONE)
    with pytest.raises(StoreError):
        store.update(item, token="secret")


def test_interrupted_items_go_back(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "s.sqlite3")
    validating, uploading, verifying, done = (_add(store, f"{n}.pdf") for n in "abcd")
    store.transition(validating, S.VALIDATING)
    for item in (uploading, verifying, done):
        for state in (S.VALIDATING, S.READY, S.UPLOADING):
            store.transition(item, state)
    store.transition(verifying, S.VERIFYING)
    store.transition(done, S.VERIFYING)
    store.transition(done, S.DONE)
    store.close()
    reopened = SessionStore(tmp_path / "s.sqlite3")
    reopened.restore_interrupted()
    states = {r.id: r.state for r in reopened.items()}
    assert states == {validating: S.QUEUED, uploading: S.READY, verifying: S.READY,
                      done: S.DONE}
    # Cut-off sends are marked (the next try asks the server first), not counted as failures.
    marked = {r.id for r in reopened.items() if r.interrupted}
    assert marked == {uploading, verifying}
    assert all(r.attempts == 0 for r in reopened.items())


def test_survives_a_process_killed_mid_write(tmp_path: Path) -> None:
    """A writer killed with SIGKILL while committing leaves a readable, consistent store."""
    db = tmp_path / "s.sqlite3"
    SessionStore(db).close()
    script = (
        "import sys, os, signal\n"
        "from pathlib import Path\n"
        "from toolbox_uploader.core.session_store import SessionStore\n"
        "from toolbox_uploader.core.states import ItemState as S\n"
        "s = SessionStore(Path(sys.argv[1]))\n"
        "for n in range(400):\n"
        "    i = s.add(server_key='k', source_path=f'/x/{n}', relative_path=str(n),"
        " display_name=str(n), category='c', size=1, mtime=1.0).id\n"
        "    s.transition(i, S.VALIDATING)\n"
        "    if n == 300:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(db)], timeout=60)
    assert proc.returncode == -9
    store = SessionStore(db)
    records = store.items()
    assert len(records) == 301
    assert all(r.state in (S.QUEUED, S.VALIDATING) for r in records)
    assert sum(r.state is S.QUEUED for r in records) <= 1


def test_migrates_a_version_1_database(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(db)
    conn.executescript(
        """
        CREATE TABLE schema_version (version INTEGER NOT NULL);
        INSERT INTO schema_version VALUES (1);
        CREATE TABLE items (
            id INTEGER PRIMARY KEY AUTOINCREMENT, server_key TEXT NOT NULL,
            source_path TEXT NOT NULL, relative_path TEXT NOT NULL, display_name TEXT NOT NULL,
            category TEXT NOT NULL, state TEXT NOT NULL, size INTEGER, mtime REAL, sha256 TEXT,
            mime_type TEXT, reason_code TEXT, reason_message TEXT,
            retryable INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL,
            attempts INTEGER NOT NULL DEFAULT 0, upload_url TEXT,
            upload_offset INTEGER NOT NULL DEFAULT 0, bytes_sent INTEGER NOT NULL DEFAULT 0,
            file_url TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL, finished_at REAL);
        INSERT INTO items (server_key, source_path, relative_path, display_name, category,
            state, size, mtime, upload_url, upload_offset, created_at, updated_at)
        VALUES ('http://s', '/src/v.mp4', 'v.mp4', 'v.mp4', 'media_resource', 'uploading',
            100, 1.0, 'http://s/api/v1/storage/tus/abc', 40, 5.0, 6.0),
            ('http://s', '/src/q.pdf', 'q.pdf', 'q.pdf', 'educational_content', 'queued',
            10, 1.0, NULL, 0, 5.0, 5.0);
        """
    )
    conn.commit()
    conn.close()
    store = SessionStore(db)
    assert store.schema_version() == SCHEMA_VERSION == 5
    video, pdf = store.items()
    assert video.upload_url == "http://s/api/v1/storage/tus/abc" and video.upload_offset == 40
    assert video.validated_at == 6.0 and video.warnings == [] and video.restarts == 0
    assert video.interrupted is False and video.account is None  # not known for old rows
    assert pdf.validated_at is None
    store.transition(video.id, S.READY)  # the migrated row still obeys the table
    store.remove([video.id])  # its unfinished upload is kept to be deleted on its server
    (abandoned,) = store.abandoned_uploads("http://s")
    assert abandoned.url_on("") == "http://s/api/v1/storage/tus/abc"


def test_refuses_a_newer_schema(tmp_path: Path) -> None:
    db = tmp_path / "new.sqlite3"
    conn = sqlite3.connect(db)
    conn.executescript("CREATE TABLE schema_version (version INTEGER); "
                       "INSERT INTO schema_version VALUES (99);")
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        SessionStore(db)


def test_upload_urls_are_rebased_on_the_current_endpoint() -> None:
    old = "http://127.0.0.1:4001/api/v1/storage/tus/"
    new = "http://127.0.0.1:5002/api/v1/storage/tus/"
    rel = relative_upload_path(old, old + "f00d")
    assert rel == "f00d"
    assert rebase_upload_url(new, rel) == new + "f00d"
    # A Location on another host (a storage node) is kept as it is, never rebased.
    assert relative_upload_path(old, "http://localhost:4001/api/v1/storage/tus/f00d") is None
    assert relative_upload_path(old, "http://x/elsewhere/f00d") is None
