"""The tus 1.0.0 request handlers on an upload URL: HEAD, PATCH, DELETE, OPTIONS and
POST with X-HTTP-Method-Override (creation is in ``creation``).

Order of checks in every handler: protocol version (412), then the account (401),
then the headers (400/415), then the upload (404 when it is not this account's,
410 when it failed or expired), then its lock (423). Ownership is checked before the
lock so that another account cannot learn that an upload exists.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from toolbox_uploader.server import keys
from toolbox_uploader.server.auth import request_account
from toolbox_uploader.server.content_coding import refuse_content_coding
from toolbox_uploader.server.errors import ApiError
from toolbox_uploader.server.tus.access import (
    DUPLICATE_OF,
    content_type,
    load_upload,
    not_found,
    path_id,
    progress_headers,
    reply,
    upload_url,
)
from toolbox_uploader.server.tus.checksum import ADVERTISED, parse_upload_checksum
from toolbox_uploader.server.tus.complete import mark_failed, upload_store
from toolbox_uploader.server.tus.headers import (
    OFFSET_CONTENT_TYPE,
    TUS_EXTENSIONS,
    TUS_VERSION,
    format_metadata,
    http_date,
    parse_number,
    require_tus_resumable,
    single_header,
)
from toolbox_uploader.server.tus.receive import brings_data
from toolbox_uploader.server.tus.state import STATE
from toolbox_uploader.server.tus.store import (
    COMPLETED,
    FINAL,
    PARTIAL,
    RECEIVING,
    Upload,
    full_but_not_stored,
    hold_back_last_byte,
    reconcile,
)
from toolbox_uploader.server.tus.writing import declare_length, write_body


async def options(request: web.Request) -> web.Response:
    """Discovery; no authentication so that clients (and CORS preflights) can ask."""
    return web.Response(
        status=204,
        headers={
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": ",".join(TUS_EXTENSIONS),
            "Tus-Max-Size": str(request.app[keys.CONFIG].max_size),
            "Tus-Checksum-Algorithm": ADVERTISED,
        },
    )



async def patch(request: web.Request) -> web.Response:
    require_tus_resumable(request)
    account = request_account(request)
    upload_id = path_id(request)
    if content_type(request) != OFFSET_CONTENT_TYPE:
        raise ApiError(
            415, "unsupported_media_type", f"PATCH requires Content-Type: {OFFSET_CONTENT_TYPE}."
        )
    refuse_content_coding(request, "tus upload data")
    offset = parse_number("Upload-Offset", single_header(request, "Upload-Offset"))
    if offset is None:
        raise ApiError(400, "missing_offset", "PATCH requires Upload-Offset.")
    new_length = parse_number("Upload-Length", single_header(request, "Upload-Length"))
    checksum = parse_upload_checksum(single_header(request, "Upload-Checksum"))
    load_upload(request, account, upload_id)  # 404/410 before anyone learns about the lock
    async with request.app[STATE].exclusive(upload_id):
        upload = load_upload(request, account, upload_id)
        if upload.kind == FINAL:
            raise ApiError(403, "final_upload", "A final upload cannot be written to.")
        if upload.status == RECEIVING:
            path = request.app[keys.STORAGE].upload_path(upload.id)
            if full_but_not_stored(upload):  # its completion failed: see _reported_offset
                hold_back_last_byte(upload_store(request.app), upload, path)
            reconcile(upload_store(request.app), upload, path)
        if offset != upload.offset:
            raise ApiError(
                409, "offset_mismatch",
                f"Upload-Offset is {offset} but the upload is at {upload.offset}.",
                {"Upload-Offset": str(upload.offset)},
            )
        deferred = upload.length is None
        if new_length is not None:
            declare_length(request, account, upload, new_length)
        if upload.status == COMPLETED:
            if await brings_data(request):
                raise ApiError(400, "upload_complete", "This upload is already complete.")
        else:
            try:
                await write_body(request, account, upload, checksum)
            except BaseException:
                # A refused request leaves the length open, as it found it: a client
                # that sent a wrong one must be able to say the right one.
                if deferred and upload.length is not None and upload.status == RECEIVING:
                    upload_store(request.app).set_length(upload, None)
                raise
    return reply(204, progress_headers(upload))



async def head(request: web.Request) -> web.Response:
    """The committed offset and what the upload was created with.

    A failed upload answers 410 Gone (HEAD cannot carry the JSON reason; a PATCH gets
    it); an expired one 410; a terminated or unknown one 404.
    """
    require_tus_resumable(request)
    account = request_account(request)
    upload = load_upload(request, account, path_id(request))
    headers = {"Cache-Control": "no-store"}
    finished_final = upload.kind == FINAL and upload.status == COMPLETED
    if upload.kind != FINAL or finished_final:
        headers["Upload-Offset"] = str(_reported_offset(upload))
    if upload.length is not None:
        headers["Upload-Length"] = str(upload.length)
    elif upload.kind != FINAL:
        headers["Upload-Defer-Length"] = "1"
    if upload.metadata:
        headers["Upload-Metadata"] = format_metadata(upload.metadata)
    if upload.kind == PARTIAL:
        headers["Upload-Concat"] = "partial"
    elif upload.kind == FINAL:
        urls = " ".join(upload_url(request, p) for p in upload.parts)
        headers["Upload-Concat"] = f"final;{urls}"
    if upload.status == RECEIVING and upload.expires_at is not None:
        headers["Upload-Expires"] = http_date(upload.expires_at)
    if upload.duplicate_of is not None:
        headers[DUPLICATE_OF] = upload.duplicate_of
    return reply(200, headers)



def _reported_offset(upload: Upload) -> int:
    """The offset HEAD reports: one byte short while the upload has every byte but is
    not stored yet.

    Mostly its request is validating and storing the file, which may take a while and
    may still refuse it. A client that asks meanwhile (its PATCH's answer was lost) and
    hears "every byte" stops there for good, stored or not; one byte short, it sends that
    byte again and hears 423 until the completion is over, then how it ended (409 with
    the full offset, or 410 with the reason). Otherwise its completion failed on a full or
    read-only disk and could not even step the row back (``complete``): that byte, sent
    again, completes it once there is room. As ``recovery`` does for a completion the
    server never finished."""
    return upload.offset - 1 if full_but_not_stored(upload) else upload.offset


async def delete(request: web.Request) -> web.Response:
    """Terminate an upload: its bytes and row go; later requests get 404.

    A completed upload only loses its tus record: the stored file is managed through
    ``DELETE /api/v1/files/{id}``.
    """
    require_tus_resumable(request)
    account = request_account(request)
    upload_id = path_id(request)
    store = upload_store(request.app)
    if store.get(account.id, upload_id) is None:
        raise not_found()
    async with request.app[STATE].exclusive(upload_id):
        upload = store.get(account.id, upload_id)
        if upload is None:
            raise not_found()
        finals = store.finals_waiting_for(upload.id) if upload.kind == PARTIAL else []
        if any(request.app[STATE].busy(final.id) for final in finals):
            raise ApiError(
                423, "upload_locked",
                "This partial upload is being joined into its final upload; retry after that.",
            )
        store.delete(upload.id)
        request.app[STATE].forget(upload.id)
        if upload.status != COMPLETED:
            request.app[keys.STORAGE].upload_path(upload.id).unlink(missing_ok=True)
            request.app[keys.PROGRESS].publish(
                upload.id, upload.offset, upload.length, "terminated"
            )
        # A final upload waiting for this part can never complete now: it says so at once
        # (410), and its other parts are free to be used again.
        for final in finals:
            mark_failed(request.app, final, ApiError(
                410, "partial_upload_gone",
                "A partial upload of this final upload was terminated.",
            ))
    return reply(204)



Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def dispatcher(routes: dict[str, Handler]) -> Handler:
    """One handler for a tus resource that honours ``X-HTTP-Method-Override``.

    The tus spec says a server MUST take the header's value as the request's method,
    whatever method carried it (clients behind proxies that only pass GET and POST)."""
    allowed = ", ".join(routes)

    async def handle(request: web.Request) -> web.StreamResponse:
        method = (single_header(request, "X-HTTP-Method-Override") or "").strip().upper()
        handler = routes.get(method or request.method)
        if handler is None:
            raise ApiError(
                405, "method_not_allowed",
                f"{method or request.method} is not allowed here; use {allowed}.",
                {"Allow": allowed},
            )
        return await handler(request)

    return handle
