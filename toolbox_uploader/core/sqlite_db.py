"""One SQLite connection for a store: WAL, a lock, transactions and forward migrations.

Shared by the engine's session store and the server's database. A single connection
behind a lock serves every thread of a process; other processes (``user add`` next to a
running server, a second app refused by the engine's lock) reach the same file through
WAL. ``synchronous=NORMAL`` keeps small transactions cheap (no fsync per commit) while
staying consistent after a process crash.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

#: ``MIGRATIONS[n]`` holds the statements that bring a schema from version ``n`` to ``n + 1``.
Migrations = Sequence[Sequence[str]]


class StoreFailure(RuntimeError):
    """A store could not do what was asked; the message says why, in a sentence."""


class SchemaTooNewError(StoreFailure):
    """The file was written by a newer version of the program."""


class DamagedStoreError(StoreFailure):
    """The file is not a database this program can open (damaged, or something else)."""


def held_by_another(exc: sqlite3.Error) -> bool:
    """SQLite gave up waiting for a lock another connection holds (by its error code)."""
    primary = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # extended codes carry it low
    return primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class SQLiteDatabase:
    """``busy_timeout``: how long a statement waits for another connection's lock."""

    def __init__(self, path: Path, migrations: Migrations, *,
                 busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=busy_timeout
        )
        self.conn.row_factory = sqlite3.Row
        try:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self._migrate(migrations)
        except sqlite3.DatabaseError as exc:  # not OperationalError: a locked file is not damaged
            self.conn.close()
            if isinstance(exc, sqlite3.OperationalError):
                raise
            raise DamagedStoreError(
                f"{self.path} cannot be read as a database ({exc}); move it aside and an "
                "empty one is made in its place."
            ) from None

    def _migrate(self, migrations: Migrations) -> None:
        target = len(migrations)
        try:  # up to date: no write at all, so a read-only file still opens (to be listed)
            row = self.conn.execute("SELECT version FROM schema_version").fetchone()
        except sqlite3.OperationalError:  # no such table: a new file
            row = None
        if row is not None and int(row[0]) == target:
            return
        with self.transaction() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            current = int(row[0]) if row else 0
            if current > target:
                raise SchemaTooNewError(
                    f"{self.path} was written by a newer ToolBox Uploader "
                    f"(schema {current}, this version knows {target})."
                )
            for statements in migrations[current:]:
                for statement in statements:
                    conn.execute(statement)
            if row is None:
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (target,))
            else:
                conn.execute("UPDATE schema_version SET version = ?", (target,))

    @property
    def schema_version(self) -> int:
        row = self.fetchone("SELECT version FROM schema_version")
        return int(row[0]) if row else 0

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any exception."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def execute(self, sql: str, params: tuple | dict = ()) -> sqlite3.Cursor:
        with self.lock:
            return self.conn.execute(sql, params)

    def fetchone(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        with self.lock:
            return self.conn.execute(sql, params).fetchone()

    def fetchall(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self.conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self.lock:
            self.conn.close()
