"""What happens when all of a file's bytes have arrived, by tus or by a direct upload.

Size and whole-file SHA-256 (computed while receiving) are checked, the file is
validated against its category's rules, the account's quota is checked again, then the
file is moved atomically into final storage and recorded. Any failure raises
``FinalizeError`` (an ``ApiError``) and removes the received bytes, except when the
server's own disk or database fails under a resumable upload (``IncomingFile.resumable``):
the client did nothing wrong, so its bytes stay where they were, to be completed again.

A small file received whole into memory (``IncomingFile.content``, see
``tus/whole.py``) is written and hashed by the same worker job, so it costs one thread
hop like the others.

Copies (``IncomingFile.deduplicate``, set for tus uploads): when the account already has
a stored file with the same SHA-256, size, relative path, name and category, the new
bytes are dropped instead of stored, the new id becomes an alias of that file, and the
existing record is returned. The look-up, the quota check and the insert are one
``BEGIN IMMEDIATE`` transaction, so two copies completing at once end as one file.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from toolbox_uploader.core.sizes import human_size, sizes_apart
from toolbox_uploader.server import keys
from toolbox_uploader.server.accounts import Account
from toolbox_uploader.server.errors import ApiError, storage_failure
from toolbox_uploader.server.files_store import (
    FileRecord,
    add_alias,
    copies_of,
    insert_row,
    take_new_details,
)
from toolbox_uploader.server.storage import Storage, write_new_file
from toolbox_uploader.server.validation_hook import ValidationOutcome, default_validator

log = logging.getLogger(__name__)


class FinalizeError(ApiError):
    pass


@dataclass(slots=True)
class IncomingFile:
    file_id: str
    owner: Account
    path: Path
    filename: str
    relative_path: str
    category: str
    size: int
    sha256: str  # "" while ``content`` is still to be written and hashed
    expected_size: int | None = None
    expected_sha256: str | None = None
    title: str | None = None
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)
    #: The whole file in memory, written to ``path`` by the worker job (not yet on disk).
    content: Sequence[bytes] | None = None
    #: A copy of a file the account already has is not stored again (tus uploads).
    deduplicate: bool = False
    #: The bytes at ``path`` are a resumable upload's (tus): a full or read-only disk
    #: (``errors.storage_failure``) leaves them there to be completed again later.
    resumable: bool = False


#: Runs inside the transaction that records the file (the tus upload's status), with the
#: record the upload ended as: its own, or the existing file's when it was a copy.
OnRecorded = Callable[[sqlite3.Connection, FileRecord], None]


def _existing_copy(
    conn: sqlite3.Connection, storage: Storage, record: FileRecord
) -> FileRecord | None:
    """The oldest stored file ``record`` duplicates whose bytes are there, or ``None``."""
    for existing in copies_of(conn, record):
        if storage.file_path(existing.id).is_file():
            return existing
    return None


def _check_quota(app: web.Application, account: Account, size: int) -> None:
    if account.quota_bytes is None:
        return
    usage = app[keys.ACCOUNTS].usage(account)
    if usage.used + size > account.quota_bytes:
        left = max(0, account.quota_bytes - usage.used)
        # Sizes a teacher reads; the shortfall keeps it clear when both round alike.
        needed, room = sizes_apart(size, left)
        raise FinalizeError(
            413, "quota_exceeded",
            f"Storing this file needs {needed} but only {room} are left in the quota "
            f"({human_size(size - left)} short).",
        )


def _store_and_record(
    app: web.Application, incoming: IncomingFile, record: FileRecord,
    on_recorded: OnRecorded | None,
) -> FileRecord:
    """Move the bytes into storage and insert the row, or (a copy) alias the existing file
    and drop the bytes. Returns the record the upload ended as."""
    storage = app[keys.STORAGE]
    existing: FileRecord | None = None
    moved = False
    try:
        with app[keys.DATABASE].transaction() as conn:
            if incoming.deduplicate:
                existing = _existing_copy(conn, storage, record)
            if existing is not None:
                existing = take_new_details(conn, existing, record)
                add_alias(conn, record.id, existing)
                if on_recorded is not None:
                    on_recorded(conn, existing)
            else:
                # Inside the transaction: nothing can be stored between check and insert.
                _check_quota(app, incoming.owner, record.size)
                storage.store(incoming.path, record.id)
                moved = True
                insert_row(conn, record)
                if on_recorded is not None:
                    on_recorded(conn, record)
    except BaseException as exc:
        if moved:
            _undo_move(storage, incoming, record.id, exc)
        raise
    if existing is None:
        return record
    try:
        incoming.path.unlink(missing_ok=True)
    except OSError:  # only disk space: the upload is recorded as a copy either way
        log.exception("upload %s: could not remove the bytes of a copy", record.id)
    return existing


def _undo_move(storage: Storage, incoming: IncomingFile, file_id: str,
               exc: BaseException) -> None:
    """The row could not be written after the bytes were moved: remove them, or, for a
    resumable upload whose storage failed, move them back to be completed later."""
    if incoming.resumable and storage_failure(exc) is not None:
        try:
            os.replace(storage.file_path(file_id), incoming.path)
            return
        except OSError:
            log.exception("upload %s: could not move the bytes back", file_id)
    storage.remove_file(file_id)


async def finalize(
    app: web.Application, incoming: IncomingFile, on_recorded: OnRecorded | None = None
) -> FileRecord:
    """Check, validate, move and record ``incoming``; ``on_recorded`` joins the row's
    transaction so that the caller's own bookkeeping commits with it. Returns the stored
    record, or the existing file's when ``incoming`` was a copy (its ``id`` differs)."""
    try:
        return await _finalize(app, incoming, on_recorded)
    except BaseException as exc:
        if not (incoming.resumable and storage_failure(exc) is not None):
            incoming.path.unlink(missing_ok=True)
        raise


async def _finalize(
    app: web.Application, incoming: IncomingFile, on_recorded: OnRecorded | None
) -> FileRecord:
    # The checks, validation, the quota check, the move and the row are one job in a
    # worker thread: one thread hop per file instead of two. Shielded, so a client that
    # goes away (cancelling this handler) cannot leave stored bytes without their row.
    loop = asyncio.get_running_loop()
    job = loop.run_in_executor(None, _validate_and_store, app, incoming, on_recorded)
    return await _outlast_cancellation(job)


async def _outlast_cancellation(job: asyncio.Future[FileRecord]) -> FileRecord:
    """The job's result, waited for even when this task is cancelled meanwhile (the server
    stopping); the cancellation is passed on at the caller's next ``await``.

    Given up at the first cancellation, the caller deleted the file the job was still
    validating or moving, and never heard how it ended: the upload kept "every byte
    received" with no bytes behind it, or a refusal was never recorded."""
    cancelled = False
    try:
        while True:
            try:
                return await asyncio.shield(job)
            except asyncio.CancelledError:
                if job.cancelled():
                    raise
                cancelled = True
    finally:
        task = asyncio.current_task()
        if cancelled and task is not None:
            task.cancel()


def _check_declared(incoming: IncomingFile) -> None:
    if incoming.expected_size is not None and incoming.size != incoming.expected_size:
        raise FinalizeError(
            400, "size_mismatch",
            f"Received {incoming.size} bytes but {incoming.expected_size} were declared.",
        )
    expected = (incoming.expected_sha256 or "").strip().lower()
    if expected and expected != incoming.sha256:
        raise FinalizeError(
            400, "checksum_mismatch",
            "The file's SHA-256 does not match the one sent with it; it was not stored.",
        )


def _validate_and_store(
    app: web.Application, incoming: IncomingFile, on_recorded: OnRecorded | None
) -> FileRecord:
    """Runs in a worker thread (libmagic and the file's content checks block)."""
    if incoming.content is not None:
        hasher = hashlib.sha256()
        write_new_file(incoming.path, incoming.content, hasher)
        incoming.sha256 = hasher.hexdigest()
    _check_declared(incoming)
    validator = app[keys.CONFIG].validator or default_validator
    outcome: ValidationOutcome = validator(incoming.path, incoming.category, incoming.filename)
    if not outcome.accepted:
        raise FinalizeError(422, outcome.code, outcome.message)
    record = FileRecord(
        id=incoming.file_id, owner=incoming.owner.id, filename=incoming.filename,
        relative_path=incoming.relative_path, category=incoming.category, size=incoming.size,
        sha256=incoming.sha256, mime_type=outcome.mime_type, status="available",
        created_at=incoming.created_at, completed_at=time.time(), title=incoming.title,
        description=incoming.description, tags=list(incoming.tags),
    )
    return _store_and_record(app, incoming, record, on_recorded)
