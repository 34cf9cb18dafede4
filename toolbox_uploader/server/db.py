"""The server's SQLite database: accounts, tus uploads and stored files.

Calls are synchronous on the event loop on purpose: each is one short indexed statement
on a local WAL database (tens of microseconds), far cheaper than a thread hop. Bulk
byte work (hashing, copying) never happens here.

Schema changes are forward migrations in ``MIGRATIONS``; ``schema_version`` records the
last one applied.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MIGRATIONS: tuple[str, ...] = (
    # 1: accounts, uploads in progress, stored files
    """
    CREATE TABLE accounts (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        token_hash TEXT NOT NULL UNIQUE,
        quota_bytes INTEGER,
        created_at REAL NOT NULL
    );
    CREATE TABLE uploads (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL REFERENCES accounts(id),
        length INTEGER,
        offset INTEGER NOT NULL DEFAULT 0,
        metadata TEXT NOT NULL DEFAULT '{}',
        kind TEXT NOT NULL DEFAULT 'single',
        parts TEXT,
        status TEXT NOT NULL DEFAULT 'receiving',
        failure TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        expires_at REAL
    );
    CREATE INDEX uploads_owner ON uploads(owner);
    CREATE INDEX uploads_expires ON uploads(status, expires_at);
    CREATE TABLE files (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL REFERENCES accounts(id),
        filename TEXT NOT NULL,
        relative_path TEXT NOT NULL DEFAULT '',
        category TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        mime_type TEXT,
        status TEXT NOT NULL,
        title TEXT,
        description TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        created_at REAL NOT NULL,
        completed_at REAL
    );
    CREATE INDEX files_owner ON files(owner, category, created_at);
    """,
)


class ServerDatabase:
    """One connection, shared by the server's loop thread; a lock keeps other threads safe."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self.migrate()

    @property
    def schema_version(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT version FROM schema_version").fetchone()
        return int(row[0]) if row else 0

    def migrate(self) -> None:
        with self.transaction() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            if row is None:
                conn.execute("INSERT INTO schema_version (version) VALUES (0)")
            current = int(row[0]) if row else 0
            for number, script in enumerate(MIGRATIONS[current:], start=current + 1):
                for statement in script.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("UPDATE schema_version SET version = ?", (number,))

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any exception."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def execute(self, sql: str, params: tuple | dict = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._conn.execute(sql, params)

    def fetchone(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    def fetchall(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
