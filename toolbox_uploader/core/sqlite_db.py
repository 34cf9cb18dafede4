"""One SQLite connection for a store: WAL, a lock, transactions and forward migrations.

Shared by the engine's session store and the server's database. A single connection
behind a lock serves every thread of a process; other processes (``user add`` next to a
running server, a second app refused by the engine's lock) reach the same file through
WAL. ``synchronous=NORMAL`` keeps small transactions cheap (no fsync per commit) while
staying consistent after a process crash.

An open connection keeps writing to the file it opened even when that file is deleted or
another one is put in its place (a clean-up tool, a sync client, a restored backup): all
of it would be gone at the next start. ``moved`` tells, and ``recreate`` writes what the
open file holds to a new file at the path.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import threading
import time
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
        self._busy_timeout = busy_timeout
        self.conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=busy_timeout
        )
        self.conn.row_factory = sqlite3.Row
        self._identity: tuple[int, int] | None = None
        try:
            self._set_pragmas()
            self._migrate(migrations)
            with contextlib.suppress(OSError):  # ":memory:" has no file to follow
                self._identity = _identity(self.path)
        except sqlite3.DatabaseError as exc:  # not OperationalError: a locked file is not damaged
            self.conn.close()
            if isinstance(exc, sqlite3.OperationalError):
                raise
            raise DamagedStoreError(
                f"{self.path} cannot be read as a database ({exc}); move it aside and an "
                "empty one is made in its place."
            ) from None

    def _set_pragmas(self) -> None:
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")

    def moved(self) -> bool:
        """The file at ``path`` is no longer the one open here: deleted, or another file
        put in its place. A file that cannot be looked at (permissions) counts as there."""
        if self._identity is None:
            return False
        try:
            return _identity(self.path) != self._identity
        except FileNotFoundError:
            return True
        except OSError:
            return False

    def recreate(self) -> Path | None:
        """Put what the open file holds back at ``path`` and go on with that file.

        A consistent copy (SQLite's backup) is written next to the path first, so a
        failure there (a full disk) changes nothing and can be tried again. Then the old
        connection is closed: SQLite checkpoints into the lost file and deletes the
        ``-wal`` and ``-shm`` by name, which must be gone before a new file takes the
        name, or it would be read with the old file's log. A file found in its place is
        never deleted: it is moved aside, and where to is returned."""
        with self.lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".new",
                                            dir=self.path.parent)
            os.close(handle)
            copy_path = Path(name)
            try:
                copy = sqlite3.connect(copy_path, isolation_level=None)
                try:
                    self.conn.backup(copy)
                    copy.execute("PRAGMA journal_mode=WAL")
                finally:
                    copy.close()
            except BaseException:
                copy_path.unlink(missing_ok=True)
                raise
            self.conn.close()
            aside: Path | None = None
            try:
                if os.path.lexists(self.path):
                    aside = self.path.with_name(
                        f"{self.path.name}.replaced-{time.strftime('%Y%m%d-%H%M%S')}")
                    os.replace(self.path, aside)
                os.replace(copy_path, self.path)
                opened = self.path
            except OSError:
                opened = copy_path  # the data is safe there; moved() still says so: again
            self.conn = sqlite3.connect(opened, isolation_level=None, check_same_thread=False,
                                        timeout=self._busy_timeout)
            self.conn.row_factory = sqlite3.Row
            self._set_pragmas()
            self._identity = _identity(opened)
            return aside

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


def _identity(path: Path) -> tuple[int, int]:
    """Which file ``path`` names now (device and inode)."""
    st = os.stat(path)
    return st.st_dev, st.st_ino
