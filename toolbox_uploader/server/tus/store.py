"""Rows of tus uploads (the ``uploads`` table) and their part files on disk.

The ``offset`` column is the truth that HEAD reports: it only ever counts bytes that
were written to the part file. ``reconcile`` repairs the one inconsistency a crash can
leave (a part file longer than the committed offset, or shorter after a power cut).

Statuses: ``receiving`` (also a complete partial upload waiting for its final upload),
``completed`` (stored as a file under the same id), ``failed`` (``failure`` holds the
JSON error), ``expired`` (bytes removed). A terminated upload's row is deleted.

A ``completed`` upload whose bytes were a copy of a file the account already had stored
nothing: its id is an alias of that file (``file_aliases``), read into ``duplicate_of``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from toolbox_uploader.server.db import ServerDatabase

log = logging.getLogger(__name__)

RECEIVING, COMPLETED, FAILED, EXPIRED = "receiving", "completed", "failed", "expired"
SINGLE, PARTIAL, FINAL = "single", "partial", "final"


@dataclass(slots=True)
class Upload:
    id: str
    owner: str
    length: int | None
    offset: int
    metadata: dict[str, str | None]
    kind: str = SINGLE
    parts: list[str] = field(default_factory=list)
    status: str = RECEIVING
    failure: dict[str, object] | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    expires_at: float | None = None
    #: The id of the stored file this completed upload turned out to be a copy of.
    duplicate_of: str | None = None

    @property
    def complete(self) -> bool:
        return self.length is not None and self.offset >= self.length

    def expired(self, now: float | None = None) -> bool:
        if self.status == EXPIRED:
            return True
        return (
            self.status == RECEIVING and self.expires_at is not None
            and self.expires_at <= (now if now is not None else time.time())
        )

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Upload:
        return cls(
            id=row["id"], owner=row["owner"], length=row["length"], offset=row["offset"],
            metadata=json.loads(row["metadata"] or "{}"), kind=row["kind"],
            parts=json.loads(row["parts"] or "[]"), status=row["status"],
            failure=json.loads(row["failure"]) if row["failure"] else None,
            created_at=row["created_at"], updated_at=row["updated_at"],
            expires_at=row["expires_at"],
            # Only ``get`` reads it (a join); ``in row`` would look at values, not names.
            duplicate_of=row["duplicate_of"] if "duplicate_of" in set(row.keys()) else None,
        )


_WITH_ALIAS = (
    "SELECT uploads.*, file_aliases.file_id AS duplicate_of FROM uploads"
    " LEFT JOIN file_aliases ON file_aliases.id = uploads.id"
)


class UploadStore:
    """Short, indexed statements only; callers hold the upload's lock when writing."""

    def __init__(self, db: ServerDatabase, expiration: float) -> None:
        self.db = db
        self.expiration = expiration

    def insert(self, upload: Upload, conn: sqlite3.Connection | None = None) -> None:
        """``conn``: a connection inside a transaction the caller holds (else autocommit)."""
        now = time.time()
        upload.created_at = upload.updated_at = now
        upload.expires_at = None if upload.kind == FINAL else now + self.expiration
        # One statement commits on its own: no BEGIN/COMMIT round-trips.
        (conn or self.db).execute(
            "INSERT INTO uploads (id, owner, length, offset, metadata, kind, parts, status,"
            " failure, created_at, updated_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                upload.id, upload.owner, upload.length, upload.offset,
                json.dumps(upload.metadata), upload.kind, json.dumps(upload.parts),
                upload.status, json.dumps(upload.failure) if upload.failure else None,
                upload.created_at, upload.updated_at, upload.expires_at,
            ),
        )

    def unfinished_count(self, owner: str, now: float) -> int:
        """The owner's uploads still receiving and not yet expired. Finals are left out:
        each needs partial uploads of its own, which are counted."""
        row = self.db.fetchone(
            "SELECT COUNT(*) FROM uploads WHERE owner = ? AND status = 'receiving'"
            " AND kind != 'final' AND expires_at > ?", (owner, now))
        return int(row[0]) if row else 0

    def get(self, owner: str, upload_id: str) -> Upload | None:
        row = self.db.fetchone(
            f"{_WITH_ALIAS} WHERE uploads.id = ? AND uploads.owner = ?", (upload_id, owner)
        )
        return Upload.from_row(row) if row else None

    def get_any(self, upload_id: str) -> Upload | None:
        row = self.db.fetchone(f"{_WITH_ALIAS} WHERE uploads.id = ?", (upload_id,))
        return Upload.from_row(row) if row else None

    def keep_completed(
        self, conn: sqlite3.Connection, upload_id: str, owner: str, size: int,
        metadata: dict[str, str | None],
    ) -> None:
        """Make sure the stored file ``upload_id`` answers as a completed upload.

        A copy's creation answers with the existing file's upload URL; that file may have
        come by a direct upload, or its tus row may have been terminated or forgotten
        since, so a completed row is written (with the copy's metadata) when there is
        none, and an existing one's tombstone is renewed.
        """
        now = time.time()
        conn.execute(
            "INSERT INTO uploads (id, owner, length, offset, metadata, kind, parts, status,"
            " created_at, updated_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?, '[]', ?, ?, ?, NULL)"
            " ON CONFLICT(id) DO UPDATE SET updated_at = excluded.updated_at"
            " WHERE uploads.status = 'completed'",
            (upload_id, owner, size, size, json.dumps(metadata), SINGLE, COMPLETED, now, now),
        )

    def commit_offset(
        self, upload: Upload, offset: int, conn: sqlite3.Connection | None = None
    ) -> None:
        """Record ``offset`` bytes as on disk and push the expiry forward. ``conn``: as
        for ``set_status``."""
        now = time.time()
        expires = None if upload.kind == FINAL else now + self.expiration
        (conn or self.db).execute(
            "UPDATE uploads SET offset = ?, updated_at = ?, expires_at = ? WHERE id = ?",
            (offset, now, expires, upload.id),
        )
        upload.offset, upload.updated_at, upload.expires_at = offset, now, expires

    def set_length(self, upload: Upload, length: int | None) -> None:
        self.db.execute("UPDATE uploads SET length = ? WHERE id = ?", (length, upload.id))
        upload.length = length

    def set_status(
        self, upload: Upload, status: str, failure: dict[str, object] | None = None,
        conn: sqlite3.Connection | None = None,
    ) -> None:
        """``conn``: a connection inside a transaction the caller holds (else autocommit)."""
        now = time.time()
        (conn or self.db).execute(
            "UPDATE uploads SET status = ?, failure = ?, updated_at = ? WHERE id = ?",
            (status, json.dumps(failure) if failure else None, now, upload.id),
        )
        upload.status, upload.failure, upload.updated_at = status, failure, now

    def delete(self, upload_id: str, conn: sqlite3.Connection | None = None) -> None:
        (conn or self.db).execute("DELETE FROM uploads WHERE id = ?", (upload_id,))

    def finals_waiting_for(self, partial_id: str) -> list[Upload]:
        rows = self.db.fetchall(
            "SELECT * FROM uploads WHERE kind = 'final' AND status = 'receiving'"
            " AND parts LIKE ?",
            (f'%"{partial_id}"%',),  # ids are 32 hex digits: no LIKE wildcards inside
        )
        return [Upload.from_row(r) for r in rows]

    def expired_ids(self, now: float) -> list[str]:
        rows = self.db.fetchall(
            "SELECT id FROM uploads WHERE status = 'receiving' AND expires_at IS NOT NULL"
            " AND expires_at <= ?",
            (now,),
        )
        return [r["id"] for r in rows]

    def full_but_receiving(self) -> list[Upload]:
        """Single uploads whose offset reached their length without completing. Not
        partials: a finished partial stays receiving until a final upload takes it."""
        rows = self.db.fetchall(
            "SELECT * FROM uploads WHERE kind = 'single' AND status = 'receiving'"
            " AND length IS NOT NULL AND length > 0 AND offset >= length"
        )
        return [Upload.from_row(r) for r in rows]

    def receiving_with_parts(self) -> list[Upload]:
        """Uploads still receiving that own a part file (all but final uploads)."""
        rows = self.db.fetchall(
            "SELECT * FROM uploads WHERE kind != 'final' AND status = 'receiving'"
        )
        return [Upload.from_row(r) for r in rows]

    def receiving_finals(self) -> list[Upload]:
        rows = self.db.fetchall(
            "SELECT * FROM uploads WHERE kind = 'final' AND status = 'receiving'"
        )
        return [Upload.from_row(r) for r in rows]

    def finals_made_of(self, owner: str, parts: list[str]) -> list[Upload]:
        """The owner's final uploads listing exactly ``parts``, in order, newest first."""
        rows = self.db.fetchall(
            f"{_WITH_ALIAS} WHERE uploads.owner = ? AND uploads.kind = 'final'"
            " AND uploads.parts = ? ORDER BY uploads.created_at DESC",
            (owner, json.dumps(parts)),
        )
        return [Upload.from_row(r) for r in rows]

    def purge_tombstones(self, before: float) -> int:
        """Forget failed/expired/completed upload rows last touched before ``before``."""
        cursor = self.db.execute(
            "DELETE FROM uploads WHERE status IN ('failed', 'expired', 'completed')"
            " AND updated_at < ?",
            (before,),
        )
        return cursor.rowcount


def create_part_file(path: Path) -> None:
    """Create an empty part file, and its folder again if it was removed behind our back
    (a clean-up of the data folder): every creation would fail until a restart."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)


def full_but_not_stored(upload: Upload) -> bool:
    """A single upload with every byte whose completion did not end (the server stopped,
    or its disk was full or read-only then): it must ask for its last byte again."""
    return (upload.kind == SINGLE and upload.status == RECEIVING and upload.complete
            and upload.offset > 0)


def hold_back_last_byte(store: UploadStore, upload: Upload, path: Path) -> None:
    """Step such an upload back one byte (part file first, then the row), so that a tus
    client, which stops once the offset is the length, sends that byte again and its
    request completes the upload. A part file found shorter is left to ``reconcile``."""
    assert upload.length is not None
    with contextlib.suppress(FileNotFoundError):
        if path.stat().st_size >= upload.length:
            os.truncate(path, upload.length - 1)
    store.commit_offset(upload, upload.length - 1)


def reconcile(store: UploadStore, upload: Upload, path: Path) -> None:
    """Make the part file and the committed offset agree before more bytes are written.

    Longer file: bytes written but never committed (crash between write and commit) are
    cut off. Shorter file: bytes committed but lost (power cut before the page cache was
    flushed); the offset goes back so the client resends them.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        create_part_file(path)
        size = 0
    if size > upload.offset:
        os.truncate(path, upload.offset)
    elif size < upload.offset:
        log.warning("upload %s: part file shorter than its offset; going back", upload.id)
        store.commit_offset(upload, size)
