"""The upload queue on disk: one SQLite file (WAL) that survives ``kill -9`` at any instant.

Every state change runs ``check_transition`` and is written by one compare-and-set
``UPDATE`` (its own transaction), so the row on disk is always a state the table allows,
and a crash loses at most the change that was being written. WAL with
``synchronous=NORMAL`` keeps such small transactions cheap (no fsync per commit) while
staying consistent after a process crash.

Upload URLs are stored twice: the absolute URL, and the part after the tus endpoint
(``upload_path``). The embedded local server gets a new port on every run, so the engine
rebuilds the URL from the current endpoint (see ``rebase_upload_url``).

Tokens are never stored here.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import SplitResult, urlsplit, urlunsplit

from toolbox_uploader.core.events import REMOVED_FROM_SERVER, Reason
from toolbox_uploader.core.sqlite_db import SQLiteDatabase, StoreFailure, held_by_another
from toolbox_uploader.core.states import INTERRUPTED, ItemState, check_transition

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ItemRecord:
    """One queued file as stored; the engine turns it into an ``ItemSnapshot`` for listeners."""

    id: int
    server_key: str
    source_path: str
    relative_path: str
    display_name: str
    category: str
    state: ItemState
    size: int | None = None
    mtime: float | None = None
    sha256: str | None = None
    mime_type: str | None = None
    reason_code: str | None = None
    reason_message: str | None = None
    retryable: bool = False
    next_attempt_at: float | None = None
    attempts: int = 0
    restarts: int = 0
    #: The last try was cut off (crash, quit) while sending: the server may hold the file.
    interrupted: bool = False
    upload_url: str | None = None
    upload_path: str | None = None
    upload_offset: int = 0
    bytes_sent: int = 0
    prefix_offset: int = 0
    prefix_sha256: str | None = None
    optimized_path: str | None = None
    optimized_size: int | None = None
    file_url: str | None = None
    validated_at: float | None = None
    warnings: list[Reason] = field(default_factory=list)
    created_at: float = 0.0
    updated_at: float = 0.0
    finished_at: float | None = None
    #: The account it was uploaded to (a mark of the token, never the token); ``None``
    #: when not known (not uploaded yet, no token, or queued before it was recorded).
    account: str | None = None

    def went_elsewhere(self, account: str | None) -> bool:
        """Uploaded to another account than ``account``, as far as anyone can tell."""
        return self.account is not None and account is not None and self.account != account

    @property
    def reason(self) -> Reason | None:
        if self.reason_code is None:
            return None
        return Reason(self.reason_code, self.reason_message or "")

    @property
    def upload_source(self) -> str:
        """The file that is actually sent: the optimized copy when there is one."""
        return self.optimized_path or self.source_path

    @property
    def upload_size(self) -> int | None:
        return self.optimized_size if self.optimized_path else self.size


_COLUMNS = tuple(f.name for f in fields(ItemRecord))

#: Done, and as far as anyone knows still there.
_ON_SERVER = f"state = 'done' AND COALESCE(reason_code, '') != '{REMOVED_FROM_SERVER}'"


class NewItem(NamedTuple):
    """What is known of a file when it is queued."""

    server_key: str
    source_path: str
    relative_path: str
    display_name: str
    category: str
    size: int | None
    mtime: float | None
    sha256: str | None = None

# ``_MIGRATIONS[n]`` brings the schema from version n to n + 1; never edit one that shipped.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE items (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            server_key TEXT NOT NULL,
            source_path TEXT NOT NULL,
            relative_path TEXT NOT NULL,
            display_name TEXT NOT NULL,
            category TEXT NOT NULL,
            state TEXT NOT NULL,
            size INTEGER,
            mtime REAL,
            sha256 TEXT,
            mime_type TEXT,
            reason_code TEXT,
            reason_message TEXT,
            retryable INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL,
            attempts INTEGER NOT NULL DEFAULT 0,
            upload_url TEXT,
            upload_offset INTEGER NOT NULL DEFAULT 0,
            bytes_sent INTEGER NOT NULL DEFAULT 0,
            file_url TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            finished_at REAL
        )""",
        "CREATE INDEX items_source ON items (server_key, source_path)",
    ),
    (
        # Resume safety (prefix hash), endpoint-relative URLs, optimized copies, warnings.
        "ALTER TABLE items ADD COLUMN restarts INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE items ADD COLUMN upload_path TEXT",
        "ALTER TABLE items ADD COLUMN prefix_offset INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE items ADD COLUMN prefix_sha256 TEXT",
        "ALTER TABLE items ADD COLUMN optimized_path TEXT",
        "ALTER TABLE items ADD COLUMN optimized_size INTEGER",
        "ALTER TABLE items ADD COLUMN validated_at REAL",
        "ALTER TABLE items ADD COLUMN warnings TEXT NOT NULL DEFAULT '[]'",
        "CREATE INDEX items_done ON items (server_key, sha256, relative_path)",
        # Version 1 had no validated_at: anything past validation was validated.
        "UPDATE items SET validated_at = updated_at WHERE state IN "
        "('ready','uploading','paused','verifying','done','failed')",
    ),
    ("ALTER TABLE items ADD COLUMN interrupted INTEGER NOT NULL DEFAULT 0",),
    (
        # Server-side uploads given up here (removed, cancelled, restarted) that still have
        # to be deleted on their own server, with that server's credentials.
        """CREATE TABLE abandoned_uploads (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            server_key TEXT NOT NULL,
            upload_url TEXT,
            upload_path TEXT,
            abandoned_at REAL NOT NULL
        )""",
        "CREATE INDEX abandoned_uploads_server ON abandoned_uploads (server_key)",
    ),
    # Which account a file went to (``credentials.account_mark``): a server can have many.
    ("ALTER TABLE items ADD COLUMN account TEXT",),
)
SCHEMA_VERSION = len(_MIGRATIONS)


#: After this long a server has dropped an unfinished upload by itself (tus expiration);
#: deleting it is no longer worth a request.
ABANDONED_KEEP_SECONDS = 7 * 24 * 3600


class StoreError(StoreFailure):
    pass


#: How long a write waits for a lock another program holds on the queue file. The engine
#: writes on its own loop: SQLite's 30 s default froze uploads for that long per write.
BUSY_TIMEOUT = 2.0


class DamagedQueueError(StoreError, sqlite3.DatabaseError):
    """The queue file cannot be read (damaged pages, a row this version cannot make
    sense of, a folder in its place). Also an ``sqlite3.DatabaseError``, so the engine's
    handling of failed writes still applies; the file itself is never touched."""

    def __init__(self, path: Path, cause: BaseException) -> None:
        super().__init__(f"the upload queue file {path} is damaged or unreadable ({cause}): "
                         "move it aside to start a new queue")


class UnsavedChange(StoreFailure):
    """SQLite could not write a change (disk full, a read-only file, a lock held too long).

    ``record`` is the item as the change makes it, for the caller to keep in memory and
    write again later (``SessionStore.save``); the row on disk is as it was."""

    def __init__(self, record: ItemRecord, cause: sqlite3.Error) -> None:
        super().__init__(f"the upload queue could not be saved ({cause})")
        self.record = record
        self.cause = cause


class AbandonedUpload(NamedTuple):
    id: int
    upload_url: str | None
    upload_path: str | None

    def url_on(self, endpoint: str) -> str | None:
        """Where to send the DELETE now (the local server's port changes between runs);
        ``None`` when only an absolute URL on another address is known: the DELETE would
        carry the token to whatever listens there now."""
        if self.upload_path is not None and endpoint:
            return rebase_upload_url(endpoint, self.upload_path)
        if self.upload_url is None or not endpoint:
            return self.upload_url
        if urlsplit(self.upload_url).netloc != urlsplit(endpoint).netloc:
            return None
        return self.upload_url


def rebase_upload_url(endpoint: str, upload_path: str) -> str:
    """The upload's URL on the endpoint as it is now (the local server's port changes).

    Joined to the endpoint's path, never to its query string (``/files?key=v``)."""
    parts = urlsplit(endpoint)
    tail = upload_path.lstrip("/")
    path, _, query = tail.partition("?")
    return urlunsplit((parts.scheme, parts.netloc, _below(parts.path) + path, query, ""))


def relative_upload_path(endpoint: str, url: str) -> str | None:
    """The part of ``url`` below ``endpoint`` (with the URL's own query string), or
    ``None`` when the upload lives elsewhere.

    Only an upload at the endpoint's own scheme, host and port is stored relative to it:
    that is what lets the built-in server's uploads follow its port from run to run. An
    upload a server placed on another host (a separate storage node) under the same path
    must keep its own address, or a resume would ask the endpoint's host for it (404) and
    start the file over."""
    base, where = urlsplit(endpoint), urlsplit(url)
    try:
        if _origin(base) != _origin(where):
            return None
    except ValueError:  # a port that is not a number
        return None
    prefix = _below(base.path)
    if not where.path.startswith(prefix):
        return None
    tail = where.path[len(prefix):]
    return f"{tail}?{where.query}" if where.query else tail


def _below(path: str) -> str:
    """``path`` as a folder: uploads live below it."""
    return path if path.endswith("/") else path + "/"


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(parts: SplitResult) -> tuple[str, str | None, int | None]:
    """Scheme, host and port as compared by browsers (``HTTP://Host:80`` = ``http://host``)."""
    scheme = parts.scheme.lower()
    return scheme, parts.hostname, parts.port or _DEFAULT_PORTS.get(scheme)


def _transition_changes(current: ItemRecord, state: ItemState,
                        changes: dict[str, Any]) -> dict[str, Any]:
    check_transition(current.state, state)
    changes = dict(changes)
    if state in (ItemState.DONE, ItemState.CANCELLED, ItemState.REJECTED):
        changes.setdefault("finished_at", time.time())
    changes["state"] = state
    return changes


class SessionStore:
    """Thread-safe (one connection behind a lock); the engine is its only writer at run time."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._db = SQLiteDatabase(self.path, _MIGRATIONS, busy_timeout=BUSY_TIMEOUT)
        except StoreFailure as exc:  # a newer schema, a damaged file
            raise StoreError(str(exc)) from None
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_CANTOPEN:
                raise DamagedQueueError(self.path, exc) from None  # e.g. a folder in its place
            # Read-only, locked, a full disk while migrating: the file is fine, keep it.
            raise StoreError(f"the upload queue file {self.path} cannot be opened for "
                             f"writing ({exc})") from None
        self._lock = self._db.lock
        self._transaction = self._db.transaction
        self._closed = False
        self._place_refused = False  # ``keep_in_place`` failed and said so

    @property
    def _conn(self) -> sqlite3.Connection:
        return self._db.conn  # replaced when the file is put back (``keep_in_place``)

    def schema_version(self) -> int:
        return self._db.schema_version

    def keep_in_place(self) -> bool:
        """If the queue file was deleted or replaced while open (a clean-up tool, a sync
        client, a restored backup), write the queue as this run has it back to its path;
        a file found there is moved aside, never deleted. Without this every change since
        would go to a file no one can open again, and the next start would find an empty
        (or an old) queue. True when it was put back; a failure (a full disk) is logged
        and tried again at the next call."""
        if self._closed or not self._db.moved():
            return False
        try:
            aside = self._db.recreate()
        except (OSError, sqlite3.Error) as exc:
            if not self._place_refused:  # said once, not every second
                log.warning("the upload queue file %s was deleted or replaced, and could not "
                            "be written again yet (%s)", self.path, exc)
            self._place_refused = True
            return False
        self._place_refused = False
        if aside is None:
            log.warning("the upload queue file %s was deleted while in use; it is written "
                        "again from the queue in use", self.path)
        else:
            log.warning("the upload queue file %s was replaced while in use; it is written "
                        "again from the queue in use, and the file found there is kept as %s",
                        self.path, aside)
        return True

    def close(self) -> None:
        """Close, after putting the file back if it was deleted or replaced meanwhile."""
        self.keep_in_place()
        self._closed = True
        self._db.close()

    # -- reading --------------------------------------------------------------------------

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Damaged pages or a row that is not one of ours become one clear error, not a
        traceback; a busy or locked file stays what it is."""
        try:
            yield
        except DamagedQueueError:
            raise
        except sqlite3.OperationalError as exc:
            if held_by_another(exc):
                raise
            raise DamagedQueueError(self.path, exc) from None
        except (sqlite3.DatabaseError, ValueError, TypeError, KeyError) as exc:
            raise DamagedQueueError(self.path, exc) from None

    def _record(self, row: sqlite3.Row) -> ItemRecord:
        with self._reading():
            values: dict[str, Any] = {name: row[name] for name in _COLUMNS}
            values["state"] = ItemState(values["state"])
            values["retryable"] = bool(values["retryable"])
            values["interrupted"] = bool(values["interrupted"])
            values["warnings"] = [Reason(*w) for w in json.loads(values["warnings"] or "[]")]
            return ItemRecord(**values)

    def get(self, item_id: int) -> ItemRecord | None:
        with self._lock, self._reading():
            row = self._conn.execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchone()
        return self._record(row) if row else None

    def items(self, server_key: str | None = None) -> list[ItemRecord]:
        with self._lock, self._reading():
            if server_key is None:
                rows = self._conn.execute("SELECT * FROM items ORDER BY id").fetchall()
            else:
                rows = self._conn.execute(
                    "SELECT * FROM items WHERE server_key = ? ORDER BY id", (server_key,)
                ).fetchall()
        return [self._record(r) for r in rows]

    def find_by_source(self, server_key: str, source_path: str) -> ItemRecord | None:
        """The newest item for this file on this server (re-running a command reuses it)."""
        with self._lock, self._reading():
            row = self._conn.execute(
                "SELECT * FROM items WHERE server_key = ? AND source_path = ? "
                "ORDER BY id DESC LIMIT 1",
                (server_key, source_path),
            ).fetchone()
        return self._record(row) if row else None

    def find_done(self, server_key: str, sha256: str, relative_path: str, category: str,
                  exclude: int | None = None, account: str | None = None) -> ItemRecord | None:
        """A done item with this content at this place: the same file sent under another
        category, or to another account, is a different file on the server."""
        with self._lock, self._reading():
            rows = self._conn.execute(
                "SELECT * FROM items WHERE server_key = ? AND sha256 = ? AND relative_path = ? "
                f"AND category = ? AND {_ON_SERVER} AND id != ? ORDER BY id",
                (server_key, sha256, relative_path, category, exclude or -1),
            ).fetchall()
        done = [r for r in map(self._record, rows) if not r.went_elsewhere(account)]
        return done[0] if done else None

    def find_done_candidates(self, server_key: str, relative_path: str, size: int,
                             category: str, exclude: int | None = None,
                             account: str | None = None) -> list[ItemRecord]:
        """Done items a big file might duplicate; only then is it worth hashing it first."""
        with self._lock, self._reading():
            rows = self._conn.execute(
                "SELECT * FROM items WHERE server_key = ? AND relative_path = ? AND size = ? "
                f"AND category = ? AND {_ON_SERVER} AND sha256 IS NOT NULL AND id != ?",
                (server_key, relative_path, size, category, exclude or -1),
            ).fetchall()
        return [r for r in map(self._record, rows) if not r.went_elsewhere(account)]

    # -- writing --------------------------------------------------------------------------

    def add(self, *, server_key: str, source_path: str, relative_path: str, display_name: str,
            category: str, size: int | None, mtime: float | None,
            sha256: str | None = None) -> ItemRecord:
        (record,) = self.add_many([NewItem(server_key, source_path, relative_path, display_name,
                                           category, size, mtime, sha256)])
        return record

    def add_many(self, items: Sequence[NewItem]) -> list[ItemRecord]:
        """Queue new items in one transaction (a dropped folder of 10,000 files took 10,000
        commits, about 1 s); every other column starts at its default."""
        now = time.time()
        records: list[ItemRecord] = []
        with self._transaction() as conn:
            for new in items:
                cursor = conn.execute(
                    "INSERT INTO items (server_key, source_path, relative_path, display_name, "
                    "category, state, size, mtime, sha256, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (new.server_key, new.source_path, new.relative_path, new.display_name,
                     new.category, ItemState.QUEUED.value, new.size, new.mtime, new.sha256,
                     now, now),
                )
                records.append(ItemRecord(
                    id=int(cursor.lastrowid or 0), server_key=new.server_key,
                    source_path=new.source_path, relative_path=new.relative_path,
                    display_name=new.display_name, category=new.category,
                    state=ItemState.QUEUED, size=new.size, mtime=new.mtime, sha256=new.sha256,
                    created_at=now, updated_at=now))
        return records

    @staticmethod
    def _encode(changes: dict[str, Any]) -> dict[str, Any]:
        unknown = set(changes) - set(_COLUMNS)
        if unknown or "id" in changes:
            raise StoreError(f"not item columns: {sorted(unknown | ({'id'} & set(changes)))}")
        encoded = dict(changes)
        if "state" in encoded:
            encoded["state"] = ItemState(encoded["state"]).value
        if "warnings" in encoded:
            encoded["warnings"] = json.dumps([[w.code, w.message] for w in encoded["warnings"]])
        for flag in ("retryable", "interrupted"):
            if flag in encoded:
                encoded[flag] = int(bool(encoded[flag]))
        return encoded

    def transition(self, item_id: int, state: ItemState, *, current: ItemRecord | None = None,
                   **changes: Any) -> ItemRecord:
        """Move an item to ``state`` (checked against the table) with other fields, atomically.

        One ``UPDATE ... WHERE state = <the state it was checked from>`` statement, which
        SQLite runs as its own transaction: the check and the write cannot be separated by
        another writer, and a crash keeps either the old row or the new one. ``current``
        (the caller's cached copy) saves reading the row first.
        """
        if current is None:
            current = self.get(item_id)
            if current is None:
                raise StoreError(f"no item {item_id}")
        changes = _transition_changes(current, state, changes)
        return self._save_changes(current, changes)

    @staticmethod
    def transitioned(current: ItemRecord, state: ItemState, **changes: Any) -> ItemRecord:
        """``current`` moved to ``state`` (checked against the table) in memory only."""
        return SessionStore._applied(current, _transition_changes(current, state, changes))

    @staticmethod
    def updated(current: ItemRecord, **changes: Any) -> ItemRecord:
        """``current`` with other fields changed, in memory only."""
        if "state" in changes:
            raise StoreError("state changes go through transition()")
        return SessionStore._applied(current, changes)

    def save(self, record: ItemRecord, *, expected: ItemState) -> None:
        """Write every field of ``record`` over its row, if the row is still in ``expected``
        (what was last written): changes kept in memory while the file could not be
        written, saved at once when it can be again."""
        values = {name: getattr(record, name) for name in _COLUMNS if name != "id"}
        self._write(record.id, values, expected=expected)

    def _save_changes(self, current: ItemRecord, changes: dict[str, Any]) -> ItemRecord:
        try:
            self._write(current.id, changes, expected=current.state)
        except sqlite3.Error as exc:
            raise UnsavedChange(self._applied(current, changes), exc) from exc
        return self._applied(current, changes)

    def update(self, item_id: int, *, current: ItemRecord | None = None,
               **changes: Any) -> ItemRecord:
        """Save fields that are not the state (offsets, hashes, URLs) in one statement."""
        if "state" in changes:
            raise StoreError("state changes go through transition()")
        if current is None:
            current = self.get(item_id)
            if current is None:
                raise StoreError(f"no item {item_id}")
        return self._save_changes(current, changes)

    def _write(self, item_id: int, changes: dict[str, Any], *, expected: ItemState) -> None:
        encoded = self._encode({**changes, "updated_at": time.time()})
        assignments = ", ".join(f"{name} = ?" for name in encoded)
        with self._lock:
            cursor = self._conn.execute(
                f"UPDATE items SET {assignments} WHERE id = ? AND state = ?",
                (*encoded.values(), item_id, expected.value),
            )
        if cursor.rowcount != 1:
            raise StoreError(f"item {item_id} is no longer {expected.value} (or gone)")

    @staticmethod
    def _applied(current: ItemRecord, changes: dict[str, Any]) -> ItemRecord:
        record = replace(current)  # the caller's cached copy stays as it was
        for name, value in changes.items():
            setattr(record, name, ItemState(value) if name == "state" else value)
        record.updated_at = time.time()
        if "warnings" in changes:
            record.warnings = list(changes["warnings"])
        return record

    def remove(self, ids: Iterable[int]) -> list[int]:
        """Forget items; an unfinished upload of theirs is kept to be deleted on its server
        (``abandoned_uploads``), in the same transaction, so none is left behind unnoticed."""
        wanted = list(ids)
        now = time.time()
        try:
            with self._transaction() as conn:
                removed = []
                for item_id in wanted:
                    conn.execute(
                        "INSERT INTO abandoned_uploads "
                        "(server_key, upload_url, upload_path, abandoned_at) "
                        "SELECT server_key, upload_url, upload_path, ? FROM items WHERE id = ? "
                        "AND state != 'done' "
                        "AND (upload_url IS NOT NULL OR upload_path IS NOT NULL)",
                        (now, item_id))
                    if conn.execute("DELETE FROM items WHERE id = ?", (item_id,)).rowcount:
                        removed.append(item_id)
        except sqlite3.OperationalError:
            raise  # read-only, full or locked: not damage
        except sqlite3.DatabaseError as exc:
            raise DamagedQueueError(self.path, exc) from None
        return removed

    def abandon_upload(self, server_key: str, upload_url: str | None,
                       upload_path: str | None) -> None:
        """Note a server-side upload to delete on its server (see ``abandoned_uploads``)."""
        if upload_url is None and upload_path is None:
            return
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO abandoned_uploads (server_key, upload_url, upload_path, "
                "abandoned_at) VALUES (?, ?, ?, ?)",
                (server_key, upload_url, upload_path, time.time()))

    def abandoned_uploads(self, server_key: str) -> list[AbandonedUpload]:
        """Uploads still to delete on this server, oldest first; ones the server has surely
        dropped by itself by now are forgotten."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM abandoned_uploads WHERE abandoned_at < ?",
                         (time.time() - ABANDONED_KEEP_SECONDS,))
            rows = conn.execute(
                "SELECT id, upload_url, upload_path FROM abandoned_uploads "
                "WHERE server_key = ? ORDER BY id", (server_key,)).fetchall()
        return [AbandonedUpload(*row) for row in rows]

    def forget_abandoned(self, ids: Iterable[int]) -> None:
        with self._transaction() as conn:
            conn.executemany("DELETE FROM abandoned_uploads WHERE id = ?",
                             [(i,) for i in ids])

    def restore_interrupted(self, on_restored: Callable[[ItemRecord], None] | None = None
                            ) -> list[ItemRecord]:
        """Put items that were mid-work when the process stopped back into the queue.

        Items that had passed validation go to ``ready`` (their upload resumes from the
        server's offset), marked ``interrupted``: the next try asks the server whether a
        small file sent in one request arrived. The others are validated again from the start.
        """
        restored = []
        for record in self.items():
            if record.state not in INTERRUPTED:
                continue
            if record.state in (ItemState.UPLOADING, ItemState.VERIFYING):
                updated = self.transition(record.id, ItemState.READY, current=record,
                                          interrupted=True)
            else:
                updated = self.transition(record.id, ItemState.QUEUED, current=record)
            restored.append(updated)
            if on_restored:
                on_restored(updated)
        return restored
