"""Turning a fully received upload into a stored file, or recording why it failed.

A single upload completes when its offset reaches its length. A final upload
(concatenation) completes when all its partial uploads have: their bytes are streamed
into the final part file (see ``concat.assemble``) and it then completes like a single
upload. ``finalize`` does the checks, the atomic move and the ``files`` row. The
partials stay until the final is stored (their rows go in the file row's transaction):
if the server's storage fails meanwhile, a new final upload can be made of them.

A failed upload keeps its row with status ``failed`` and the JSON error, so that a
later HEAD or PATCH answers 410 Gone and a PATCH repeats the reason.

An upload that completes as a copy of a file the account already has (same SHA-256,
size, relative path, name and category) stores nothing: ``finalize`` keeps the existing
file and makes this upload's id an alias of it. The upload is ``completed`` all the same
(its reservation ends), ``upload.duplicate_of`` names the file for the response, and the
existing file's own upload URL is made sure to answer as a finished upload.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Sequence

from aiohttp import web

from toolbox_uploader.core.sizes import human_size
from toolbox_uploader.server import keys
from toolbox_uploader.server.accounts import Account
from toolbox_uploader.server.errors import ApiError, storage_failure
from toolbox_uploader.server.files_store import FileRecord
from toolbox_uploader.server.finalize import IncomingFile, finalize
from toolbox_uploader.server.tus.concat import assemble
from toolbox_uploader.server.tus.facts import file_facts
from toolbox_uploader.server.tus.hashing import ensure_hasher
from toolbox_uploader.server.tus.state import STATE
from toolbox_uploader.server.tus.store import (
    COMPLETED,
    EXPIRED,
    FAILED,
    RECEIVING,
    SINGLE,
    Upload,
    UploadStore,
    hold_back_last_byte,
)

log = logging.getLogger(__name__)


def upload_store(app: web.Application) -> UploadStore:
    return UploadStore(app[keys.DATABASE], app[keys.CONFIG].upload_expiration)


def _record_status(
    app: web.Application, upload: Upload, status: str, failure: dict[str, object] | None,
    conn: sqlite3.Connection | None, new: bool,
) -> None:
    """Set the upload's status, or write its first row with it (``new``, see whole.py)."""
    store = upload_store(app)
    if new:
        upload.status, upload.failure = status, failure
        store.insert(upload, conn=conn)
    else:
        store.set_status(upload, status, failure, conn=conn)


def mark_failed(app: web.Application, upload: Upload, error: ApiError, new: bool = False) -> None:
    failure = {"status": error.status, "error": error.code, "message": error.message}
    _record_status(app, upload, FAILED, failure, None, new)
    app[STATE].forget(upload.id)
    app[keys.PROGRESS].publish(
        upload.id, upload.offset, upload.length, "failed", error.message
    )


async def complete_upload(
    app: web.Application, account: Account, upload: Upload, sha256: str | None = None,
    content: Sequence[bytes] | None = None, parts: Sequence[Upload] = (),
) -> None:
    """Finalize a fully received upload; raises the ``FinalizeError`` after recording it.

    ``content``: the whole file, received into memory and not yet written; the upload
    has no row yet, and gets one with the outcome. ``parts``: a final upload's partials,
    joined into its part file; their rows are removed with the file's row, or when the
    file is refused, and kept when the server fails to store it.
    """
    storage = app[keys.STORAGE]
    path = storage.upload_path(upload.id)
    new = content is not None
    try:
        facts = file_facts(upload.metadata)
        if sha256 is None and not new:
            running = await ensure_hasher(app[STATE], upload.id, path, upload.offset)
            sha256 = running.hasher.hexdigest()
        incoming = IncomingFile(
            file_id=upload.id, owner=account, path=path, filename=facts.filename,
            relative_path=facts.relative_path, category=facts.category.name,
            size=upload.offset, sha256=sha256 or "", expected_size=upload.length,
            expected_sha256=facts.sha256, title=facts.title, description=facts.description,
            created_at=upload.created_at, content=content, deduplicate=True,
            resumable=upload.kind == SINGLE and not new,
        )

        def recorded(conn: sqlite3.Connection, record: FileRecord) -> None:
            # The upload's row turns ``completed`` in the transaction that adds the file's
            # row (or, for a copy, the alias).
            _record_status(app, upload, COMPLETED, None, conn, new)
            if parts:  # from here the final's bytes are the file, no longer its parts'
                upload_store(app).commit_offset(upload, upload.offset, conn)
                for part in parts:
                    upload_store(app).delete(part.id, conn)
            if record.id != upload.id:
                upload_store(app).keep_completed(
                    conn, record.id, record.owner, record.size, upload.metadata
                )

        record = await finalize(app, incoming, recorded)
    except ApiError as exc:
        path.unlink(missing_ok=True)
        mark_failed(app, upload, exc, new)
        _drop_parts(app, parts, "failed", exc.message)  # the same parts would fail again
        raise
    except Exception as exc:
        failure = storage_failure(exc)
        if failure is not None:
            _after_storage_failure(app, upload, exc, failure, new)
            raise failure from None
        # Whatever went wrong, the bytes are gone and the row says so: a HEAD must not
        # report a complete upload that has no file (the details, paths included, go to
        # the log, not to the client).
        log.exception("upload %s: completion failed", upload.id)
        path.unlink(missing_ok=True)
        error = ApiError(500, "completion_failed",
                         "The upload could not be stored; the server's log says why.")
        mark_failed(app, upload, error, new)
        raise error from None
    if record.id != upload.id:
        upload.duplicate_of = record.id
    _drop_parts(app, parts, "completed", rows=False)  # their rows went with the file's
    app[STATE].forget(upload.id)
    app[keys.PROGRESS].publish(upload.id, upload.offset, upload.length, "completed")


def _after_storage_failure(
    app: web.Application, upload: Upload, exc: BaseException, failure: ApiError, new: bool
) -> None:
    """The disk or the database failed (full, read-only) while storing a whole upload.

    Nothing the client did is wrong, so nothing it sent is thrown away: a single upload
    keeps its bytes, one short of its length (``hold_back_last_byte``), so that its
    client, retrying after the 507/503, sends the last byte again and completes it once
    the server has room. If even that step back cannot be written, HEAD and PATCH take it
    (``full_but_not_stored``). A body held in memory (``new``) gets no row: nothing was
    confirmed, the client sends it again. A final upload, which takes no PATCH, fails
    (freeing its partials, which are kept) and its joined copy goes: the client's retry
    of the final's creation joins them again."""
    log.error("upload %s: storage failed while completing: %s", upload.id, exc)
    app[STATE].forget(upload.id)  # the running hash no longer matches a shorter file
    path = app[keys.STORAGE].upload_path(upload.id)
    if new:
        path.unlink(missing_ok=True)
        return
    if upload.kind != SINGLE:
        path.unlink(missing_ok=True)
        failure.message += " The partial uploads are kept: create the final upload again."
        with contextlib.suppress(sqlite3.Error):
            mark_failed(app, upload, failure)
        return
    try:
        hold_back_last_byte(upload_store(app), upload, path)
    except (OSError, sqlite3.Error) as again:
        log.error("upload %s: could not step back its last byte yet: %s", upload.id, again)
    app[keys.PROGRESS].publish(upload.id, upload.offset, upload.length, "uploading")


async def complete_final_if_ready(app: web.Application, account: Account, final: Upload) -> bool:
    """Build and complete a final upload once all its partials are complete.

    The caller holds the final upload's lock. Returns whether it was completed;
    raises the ``ApiError`` it was marked failed with.
    """
    store = upload_store(app)
    storage = app[keys.STORAGE]
    parts = [store.get(account.id, part_id) for part_id in final.parts]
    gone = [p for p in parts if p is None or p.status in (FAILED, EXPIRED) or p.expired()]
    if gone:
        error = ApiError(
            410, "partial_upload_gone",
            "A partial upload of this final upload expired or was removed.",
        )
        mark_failed(app, final, error)
        raise error
    ready = [p for p in parts if p is not None and p.status == RECEIVING and p.complete]
    if len(ready) != len(parts):
        return False
    total, max_size = sum(int(p.length or 0) for p in ready), app[keys.CONFIG].max_size
    if total > max_size:  # parts whose lengths were deferred are only added up now
        error = ApiError(413, "too_large", f"The joined upload would be {human_size(total)}, "
                         f"past the server's limit of {human_size(max_size)}.")
        _drop_parts(app, ready, "failed", error.message)
        mark_failed(app, final, error)
        raise error
    sources = [(storage.upload_path(p.id), int(p.length or 0)) for p in ready]
    loop = asyncio.get_running_loop()
    try:
        size, sha256 = await loop.run_in_executor(
            None, assemble, sources, storage.upload_path(final.id)
        )
    except FileNotFoundError:  # a part's file went while it was being read
        error = ApiError(
            410, "partial_upload_gone", "A partial upload of this final upload was removed."
        )
        mark_failed(app, final, error)
        raise error from None
    except OSError as exc:
        # The parts are untouched and free again for a new final upload; a full disk is
        # said as such (507), and the half-joined copy does not keep taking its room.
        storage.upload_path(final.id).unlink(missing_ok=True)
        error = storage_failure(exc)
        if error is None:
            log.exception("final upload %s: assembly failed", final.id)
            error = ApiError(500, "concatenation_failed",
                             "The parts could not be joined; the server's log says why.")
        else:
            log.error("final upload %s: assembly failed: %s", final.id, exc)
        mark_failed(app, final, error)
        raise error from None
    if final.length is None:
        store.set_length(final, size)
    # The offset is committed with the file's row, when the parts' rows go: until then
    # the parts hold the quota, and counting the final too would count its bytes twice.
    final.offset = size
    await complete_upload(app, account, final, sha256, parts=ready)
    return True


def _drop_parts(
    app: web.Application, parts: Sequence[Upload], status: str, message: str | None = None,
    rows: bool = True,
) -> None:
    """Remove the partial uploads of a final one, ending their progress with ``status``:
    the hub follows each upload until a final status, and a WebSocket watching a part
    hears how it ended instead of "gone" at its next re-check. ``rows``: delete their rows
    too (false when the file's transaction already did)."""
    store, storage = upload_store(app), app[keys.STORAGE]
    for part in parts:
        if rows:
            store.delete(part.id)
        app[STATE].forget(part.id)
        storage.upload_path(part.id).unlink(missing_ok=True)
        app[keys.PROGRESS].publish(part.id, part.offset, part.length, status, message)


def stranded_final(app: web.Application, store: UploadStore, final: Upload) -> bool:
    """A final upload whose parts are all complete but which nobody is completing.

    Its completion ended without a word in the database: the server stopped mid-way, or
    its storage failed and could not even record that (a read-only database). It would
    hold its parts for as long as they live, and the client's retry of the creation
    (after a 503/507) would be a 400; so a new final of the same parts replaces it. A
    part's PATCH about to complete it (between its commit and the final's lock) finds
    it failed and leaves it: the new final stores the file once. The server also
    finishes such finals itself (``recovery.finish_stranded_finals``)."""
    if app[STATE].busy(final.id):
        return False
    parts = [store.get_any(part_id) for part_id in final.parts]
    return all(p is not None and p.status == RECEIVING and p.complete for p in parts)
