"""Stored bytes per account come from ``account_usage``, kept by triggers on ``files``."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from toolbox_uploader.server.accounts import AccountStore
from toolbox_uploader.server.db import MIGRATIONS, ServerDatabase
from toolbox_uploader.server.files_store import FileRecord, FileStore


def _record(file_id: str, owner: str, size: int) -> FileRecord:
    return FileRecord(
        id=file_id, owner=owner, filename=f"{file_id}.txt", relative_path="",
        category="educational_content", size=size, sha256="0" * 64, mime_type="text/plain",
        status="available", created_at=time.time(),
    )


def test_usage_follows_inserts_and_deletes(tmp_path: Path) -> None:
    db = ServerDatabase(tmp_path / "server.sqlite3")
    accounts = AccountStore(db)
    alice, _ = accounts.create("alice", 10_000)
    bob, _ = accounts.create("bob", None)
    files = FileStore(db)
    assert accounts.usage(alice).used == 0
    files.insert(_record("a" * 32, alice.id, 300))
    files.insert(_record("b" * 32, alice.id, 200))
    files.insert(_record("c" * 32, bob.id, 50))
    assert accounts.usage(alice).used == 500
    assert accounts.usage(alice).available == 9_500
    assert accounts.usage(bob).used == 50
    assert files.delete(alice.id, "a" * 32)
    assert accounts.usage(alice).used == 200
    db.execute("UPDATE files SET size = 20 WHERE id = ?", ("c" * 32,))
    assert accounts.usage(bob).used == 20
    db.close()


def test_migration_counts_files_stored_before_it(tmp_path: Path) -> None:
    path = tmp_path / "server.sqlite3"
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO schema_version (version) VALUES (1)")
    conn.execute(
        "INSERT INTO accounts (id, name, token_hash, quota_bytes, created_at)"
        " VALUES ('acc', 'old', 'hash', 1000, 0)"
    )
    for number, size in enumerate((100, 250)):
        conn.execute(
            "INSERT INTO files (id, owner, filename, category, size, sha256, status,"
            " created_at) VALUES (?, 'acc', 'f', 'educational_content', ?, 'x', 'available', 0)",
            (f"{number:032d}", size),
        )
    conn.commit()
    conn.close()
    db = ServerDatabase(path)
    assert db.schema_version == len(MIGRATIONS)
    account = AccountStore(db).by_name("old")
    assert account is not None
    assert AccountStore(db).usage(account).used == 350
    db.close()
