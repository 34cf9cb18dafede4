"""Rows of stored files: what ``/api/v1/files`` lists and ``finalize`` writes.

An alias (``file_aliases``) is a second id of a stored file: the id of a tus upload that
completed as a copy of a file the account already had (see ``finalize``). ``get`` and so
every ``/api/v1/files/{id}`` route accept it; listings show each file once, under its
own id. Aliases go when their file is deleted (``ON DELETE CASCADE``).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from toolbox_uploader.server.db import ServerDatabase


@dataclass(slots=True)
class FileRecord:
    id: str
    owner: str
    filename: str
    relative_path: str
    category: str
    size: int
    sha256: str
    mime_type: str | None
    status: str
    created_at: float
    completed_at: float | None = None
    title: str | None = None
    description: str | None = None
    tags: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("owner")
        return data

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> FileRecord:
        return cls(
            id=row["id"], owner=row["owner"], filename=row["filename"],
            relative_path=row["relative_path"], category=row["category"], size=row["size"],
            sha256=row["sha256"], mime_type=row["mime_type"], status=row["status"],
            created_at=row["created_at"], completed_at=row["completed_at"], title=row["title"],
            description=row["description"], tags=json.loads(row["tags"] or "[]"),
        )


class FileStore:
    def __init__(self, db: ServerDatabase) -> None:
        self.db = db

    def insert(
        self, record: FileRecord,
        also: Callable[[sqlite3.Connection], None] | None = None,
    ) -> None:
        """Insert the row; ``also`` runs in the same transaction (commits or fails with it)."""
        with self.db.transaction() as conn:
            insert_row(conn, record)
            if also is not None:
                also(conn)

    def get(self, owner: str, file_id: str) -> FileRecord | None:
        """The owner's file with this id, or whose alias this id is."""
        row = self.db.fetchone(
            "SELECT * FROM files WHERE owner = ?1 AND id = COALESCE("
            "(SELECT file_id FROM file_aliases WHERE id = ?2 AND owner = ?1), ?2)",
            (owner, file_id),
        )
        return FileRecord.from_row(row) if row else None

    def list(
        self, owner: str, category: str | None = None, limit: int = 50, offset: int = 0, *,
        sha256: str | None = None, relative_path: str | None = None,
    ) -> tuple[list[FileRecord], int]:
        """A page of the owner's files; ``sha256`` and ``relative_path`` narrow it to copies
        of one file (how a client asks whether an upload it lost track of arrived)."""
        where, params = "owner = ?", [owner]
        for column, value in (("category", category), ("sha256", sha256),
                              ("relative_path", relative_path)):
            if value is not None:
                where += f" AND {column} = ?"
                params.append(value)
        total = self.db.fetchone(f"SELECT COUNT(*) FROM files WHERE {where}", tuple(params))[0]
        rows = self.db.fetchall(
            f"SELECT * FROM files WHERE {where} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [FileRecord.from_row(r) for r in rows], int(total)

    def matching(
        self, owner: str, category: str | None, sha256: str, relative_path: str | None,
    ) -> list[FileRecord]:
        """All the owner's files with this content (a few copies), newest first, in the
        order ``list`` gives them."""
        where, params = "owner = ? AND sha256 = ?", [owner, sha256]
        for column, value in (("category", category), ("relative_path", relative_path)):
            if value is not None:
                where += f" AND {column} = ?"
                params.append(value)
        rows = self.db.fetchall(
            f"SELECT * FROM files WHERE {where} ORDER BY created_at DESC, id", tuple(params)
        )
        return [FileRecord.from_row(r) for r in rows]

    def delete(self, owner: str, file_id: str) -> bool:
        with self.db.transaction() as conn:
            cursor = conn.execute("DELETE FROM files WHERE id = ? AND owner = ?", (file_id, owner))
        return cursor.rowcount > 0


def insert_row(conn: sqlite3.Connection, record: FileRecord) -> None:
    """Insert a file's row on ``conn`` (inside a transaction the caller holds)."""
    conn.execute(
        "INSERT INTO files (id, owner, filename, relative_path, category, size, sha256,"
        " mime_type, status, title, description, tags, created_at, completed_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            record.id, record.owner, record.filename, record.relative_path,
            record.category, record.size, record.sha256, record.mime_type,
            record.status, record.title, record.description, json.dumps(record.tags),
            record.created_at, record.completed_at or time.time(),
        ),
    )


#: INDEXED BY: without statistics the planner takes ``files_owner`` (owner, category), a
#: scan of the account's files on every completed upload, which halved the server's rate of
#: small files once a few thousand were stored (``bench/many_files.py``).
COPIES_SQL = (
    "SELECT * FROM files INDEXED BY files_owner_sha256_path"
    " WHERE owner = ? AND sha256 = ? AND relative_path = ?"
    " AND size = ? AND filename = ? AND category = ? AND status = 'available'"
    " ORDER BY created_at, id"
)


def copies_of(conn: sqlite3.Connection, record: FileRecord) -> list[FileRecord]:
    """The owner's stored files that ``record`` would duplicate, oldest first: same
    content (SHA-256 and size), relative path, name and category."""
    rows = conn.execute(
        COPIES_SQL,
        (record.owner, record.sha256, record.relative_path, record.size, record.filename,
         record.category),
    ).fetchall()
    return [FileRecord.from_row(r) for r in rows]


def take_new_details(conn: sqlite3.Connection, existing: FileRecord,
                     copy: FileRecord) -> FileRecord:
    """The details a copy brings (title, description, tags) replace the stored file's: a
    teacher who sends a file again with a corrected title means the correction. What the
    copy leaves out stays as it was."""
    title = existing.title if copy.title is None else copy.title
    description = existing.description if copy.description is None else copy.description
    tags = copy.tags or existing.tags
    if (title, description, tags) == (existing.title, existing.description, existing.tags):
        return existing
    conn.execute("UPDATE files SET title = ?, description = ?, tags = ? WHERE id = ?",
                 (title, description, json.dumps(tags), existing.id))
    return replace(existing, title=title, description=description, tags=tags)


def add_alias(conn: sqlite3.Connection, alias: str, record: FileRecord) -> None:
    """Make ``alias`` a second id of ``record`` (inside a transaction the caller holds)."""
    conn.execute(
        "INSERT INTO file_aliases (id, owner, file_id, created_at) VALUES (?, ?, ?, ?)",
        (alias, record.owner, record.id, time.time()),
    )
