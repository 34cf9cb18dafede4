"""Writing a request body into an upload, then completing it when it is whole.

Shared by PATCH and by creation-with-upload. The caller holds the upload's lock.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from aiohttp import web

from toolbox_uploader.core.sizes import human_size
from toolbox_uploader.server import keys
from toolbox_uploader.server.accounts import Account
from toolbox_uploader.server.errors import ApiError
from toolbox_uploader.server.tus.access import check_size
from toolbox_uploader.server.tus.checksum import ChunkChecksum
from toolbox_uploader.server.tus.complete import (
    complete_final_if_ready,
    complete_upload,
    upload_store,
)
from toolbox_uploader.server.tus.facts import file_facts
from toolbox_uploader.server.tus.hashing import ensure_hasher
from toolbox_uploader.server.tus.receive import Outcome, receive_body
from toolbox_uploader.server.tus.state import STATE
from toolbox_uploader.server.tus.store import PARTIAL, RECEIVING, Upload, reconcile


def declare_length(request: web.Request, account: Account, upload: Upload, length: int) -> None:
    if upload.length is not None:
        if length != upload.length:
            raise ApiError(400, "invalid_header", "Upload-Length cannot change once it is set.")
        return
    if length < upload.offset:
        raise ApiError(400, "invalid_header", "Upload-Length is below the bytes already sent.")
    category_max = None if upload.kind == PARTIAL else file_facts(upload.metadata).category.max_size
    # The bytes already received are reserved already; only the rest needs room.
    check_size(request, account, length, category_max, reserve=False)
    available = request.app[keys.ACCOUNTS].available(account)
    if available is not None and length - upload.offset > available:
        raise ApiError(
            413, "quota_exceeded",
            f"The upload needs {human_size(length)} but the quota does not leave room "
            "for it.",
        )
    upload_store(request.app).set_length(upload, length)


@dataclass(frozen=True, slots=True)
class Limit:
    """How far an upload may grow, and what to say to data past it."""

    size: int
    code: str
    what: str

    @classmethod
    def length(cls, length: int) -> Limit:
        return cls(length, "too_large", f"the upload's length of {length} bytes")


def body_limit(app: web.Application, account: Account, upload: Upload) -> Limit:
    """The upload's length; for one whose length is still deferred, the smallest of the
    server's Tus-Max-Size, the category's limit and what the quota leaves room for, so
    that bytes sent before the length is declared are held to the same rules."""
    if upload.length is not None:
        return Limit.length(upload.length)
    max_size = app[keys.CONFIG].max_size
    limits = [Limit(max_size, "too_large", f"the server's limit of {human_size(max_size)}")]
    if upload.kind != PARTIAL:
        category_max = file_facts(upload.metadata).category.max_size
        limits.append(Limit(category_max, "too_large",
                            f"this category's limit of {human_size(category_max)}"))
    available = app[keys.ACCOUNTS].available(account)
    if available is not None:  # this upload's own bytes are counted as reserved
        limits.append(Limit(upload.offset + available, "quota_exceeded",
                            "what is left of the quota"))
    return min(limits, key=lambda limit: limit.size)


async def write_body(
    request: web.Request, account: Account, upload: Upload, checksum: ChunkChecksum | None
) -> None:
    """Stream the body into the upload (caller holds its lock), then complete if done."""
    app = request.app
    store = upload_store(app)
    path = app[keys.STORAGE].upload_path(upload.id)
    reconcile(store, upload, path)
    limit = body_limit(app, account, upload)
    declared = request.content_length
    if declared is not None and upload.offset + declared > limit.size:
        raise ApiError(413, limit.code, f"This request would take the upload past {limit.what}.")
    running = await ensure_hasher(app[STATE], upload.id, path, upload.offset)
    accounts = app[keys.ACCOUNTS]
    start = upload.offset

    def take(count: int) -> bool:
        return accounts.take(account, upload.id, count, lambda: upload.offset - start)

    # Without a declared length nothing is reserved: each piece takes its room as it
    # comes, so that parallel bodies cannot all fill the same free space.
    admit = take if upload.length is None and account.quota_bytes is not None else None
    try:
        outcome = await receive_body(request, store, upload, path, running, limit.size,
                                     checksum, admit)
    finally:
        accounts.release(upload.id)
    error = body_error(outcome, upload, limit)
    # Every byte arrived, however the body ended (a chunked body never terminated, a
    # client gone after its last byte): the upload completes as usual, and the client
    # that is still there hears how that went.
    if error is not None and not (upload.complete and not outcome.too_large):
        raise error
    await after_write(request, account, upload)


def body_error(
    outcome: Outcome, upload: Upload, limit: Limit, resumable: bool = True
) -> ApiError | None:
    """Why a body that did not arrive whole is refused; ``upload.offset`` bytes are kept,
    or none (``resumable`` false: a creation that had no room to keep them)."""
    kept = f"{upload.offset} bytes are kept" if resumable else "nothing was kept"
    resume = f"{kept}, resume from there" if resumable else kept
    if outcome.over_quota:
        return ApiError(
            413, "quota_exceeded", f"The data goes past what is left of the quota; {kept}.",
        )
    if outcome.too_large:
        return ApiError(413, limit.code, f"The data goes past {limit.what}; {kept}.")
    if outcome.shutting_down:
        return ApiError(
            503, "shutting_down", f"The server is stopping; {resume}.", {"Retry-After": "10"},
        )
    if outcome.too_slow:
        return ApiError(
            408, "too_slow",
            f"The request body arrived too slowly ({outcome.cut_reason}); {resume}.",
        )
    if not outcome.received_all:
        return ApiError(
            400, "incomplete_body",
            f"The request body ended early ({outcome.cut_reason}); {resume}.",
        )
    return None


async def after_write(request: web.Request, account: Account, upload: Upload) -> None:
    """Complete a finished upload; a finished partial may complete its final upload."""
    if not upload.complete:
        return
    if upload.kind != PARTIAL:
        await complete_upload(request.app, account, upload)
        return
    state = request.app[STATE]
    for final in upload_store(request.app).finals_waiting_for(upload.id):
        async with state.exclusive(final.id, wait=True):
            current = upload_store(request.app).get(account.id, final.id)
            if current is None or current.status != RECEIVING:
                continue
            # A failure is recorded on the final upload; this partial's PATCH succeeded.
            with contextlib.suppress(ApiError):
                await complete_final_if_ready(request.app, account, current)
