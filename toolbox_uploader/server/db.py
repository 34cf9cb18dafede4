"""The server's SQLite database: accounts, tus uploads and stored files.

Calls are synchronous on the event loop on purpose: each is one short indexed statement
on a local WAL database (tens of microseconds), far cheaper than a thread hop. Bulk
byte work (hashing, copying) never happens here.

Connection, transactions and migrations come from ``core.sqlite_db``; schema changes are
forward migrations in ``MIGRATIONS``.
"""

from __future__ import annotations

from pathlib import Path

from toolbox_uploader.core.sqlite_db import SQLiteDatabase


def _statements(script: str) -> tuple[str, ...]:
    return tuple(part for part in script.split(";") if part.strip())


#: ``MIGRATIONS[n]`` brings the schema from version n to n + 1; never edit one that shipped.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: accounts, uploads in progress, stored files
    _statements("""
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
    """),
    # 2: each account's stored bytes, kept by triggers: the quota check on every upload
    # was a SUM over all the account's files (1.6 ms at 10,000 files, twice per upload).
    (
        "CREATE TABLE account_usage (owner TEXT PRIMARY KEY, used INTEGER NOT NULL DEFAULT 0)"
        " WITHOUT ROWID",
        "INSERT INTO account_usage (owner, used) SELECT owner, SUM(size) FROM files"
        " GROUP BY owner",
        """CREATE TRIGGER files_usage_insert AFTER INSERT ON files BEGIN
            INSERT OR IGNORE INTO account_usage (owner, used) VALUES (NEW.owner, 0);
            UPDATE account_usage SET used = used + NEW.size WHERE owner = NEW.owner;
        END""",
        """CREATE TRIGGER files_usage_delete AFTER DELETE ON files BEGIN
            UPDATE account_usage SET used = used - OLD.size WHERE owner = OLD.owner;
        END""",
        """CREATE TRIGGER files_usage_update AFTER UPDATE OF owner, size ON files BEGIN
            UPDATE account_usage SET used = used - OLD.size WHERE owner = OLD.owner;
            INSERT OR IGNORE INTO account_usage (owner, used) VALUES (NEW.owner, 0);
            UPDATE account_usage SET used = used + NEW.size WHERE owner = NEW.owner;
        END""",
    ),
    # 3: finding the copies of one file (``GET /api/v1/files?sha256=``) without a scan
    ("CREATE INDEX files_owner_sha256 ON files(owner, sha256)",),
    # 4: the quota check sums the owner's uploads still receiving; finished ones stay in the
    # table until cleaned up, and with an index on the owner alone it read them all.
    (
        "CREATE INDEX uploads_owner_status ON uploads(owner, status)",
        "DROP INDEX uploads_owner",
    ),
    # 5: a tus upload that completed as a copy of a file the account already had stores
    # nothing; its id stays a second name of that file (``files_store.FileStore.get``),
    # for as long as the file exists.
    (
        "CREATE TABLE file_aliases ("
        " id TEXT PRIMARY KEY,"
        " owner TEXT NOT NULL REFERENCES accounts(id),"
        " file_id TEXT NOT NULL REFERENCES files(id) ON DELETE CASCADE,"
        " created_at REAL NOT NULL"
        ") WITHOUT ROWID",
        "CREATE INDEX file_aliases_file ON file_aliases(file_id)",
        # Finding the copy: the account's files with this content at this path.
        "CREATE INDEX files_owner_sha256_path ON files(owner, sha256, relative_path)",
        "DROP INDEX files_owner_sha256",
    ),
)


class ServerDatabase(SQLiteDatabase):
    def __init__(self, path: Path) -> None:
        super().__init__(path, MIGRATIONS)
