"""POST: the creation, creation-with-upload, creation-defer-length and concatenation
extensions. Limits (Tus-Max-Size, the category's size, the quota) are checked on the
declared length, before a byte is accepted.

A creation-with-upload whose client went away before the answer leaves nothing behind:
the answer carries the only copy of the upload's address, so nobody could resume it, and
until it expired it would hold its declared length of the account's quota (an app that
pauses a small file mid-request, or retries after a cut, would pile such orphans up).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from toolbox_uploader.server import keys
from toolbox_uploader.server.accounts import Account
from toolbox_uploader.server.auth import request_account
from toolbox_uploader.server.content_coding import refuse_content_coding
from toolbox_uploader.server.errors import ApiError, client_gone
from toolbox_uploader.server.files_store import FileStore
from toolbox_uploader.server.storage import new_id
from toolbox_uploader.server.tus.access import (
    DUPLICATE_OF,
    TUS_PREFIX,
    check_room_for_unfinished,
    check_size,
    content_type,
    created_location,
    progress_headers,
    reply,
    upload_url,
)
from toolbox_uploader.server.tus.checksum import parse_upload_checksum
from toolbox_uploader.server.tus.complete import (
    complete_final_if_ready,
    mark_failed,
    stranded_final,
    upload_store,
)
from toolbox_uploader.server.tus.concat import parse_upload_concat
from toolbox_uploader.server.tus.facts import file_facts
from toolbox_uploader.server.tus.headers import (
    OFFSET_CONTENT_TYPE,
    metadata_header,
    parse_defer_length,
    parse_metadata,
    parse_number,
    require_tus_resumable,
    single_header,
)
from toolbox_uploader.server.tus.receive import brings_data
from toolbox_uploader.server.tus.state import STATE
from toolbox_uploader.server.tus.store import (
    COMPLETED,
    FAILED,
    FINAL,
    PARTIAL,
    RECEIVING,
    SINGLE,
    Upload,
    create_part_file,
)
from toolbox_uploader.server.tus.whole import receive_whole, sent_whole
from toolbox_uploader.server.tus.writing import after_write, write_body
from toolbox_uploader.server.validation_hook import refuse_bad_name


async def create(request: web.Request) -> web.Response:
    require_tus_resumable(request)
    account = request_account(request)
    concat = parse_upload_concat(single_header(request, "Upload-Concat"), TUS_PREFIX)
    metadata = parse_metadata(metadata_header(request))
    length = parse_number("Upload-Length", single_header(request, "Upload-Length"))
    defer = parse_defer_length(single_header(request, "Upload-Defer-Length"))
    checksum = parse_upload_checksum(single_header(request, "Upload-Checksum"))
    if concat is not None and not concat.partial:
        return await _create_final(request, account, metadata, concat.parts, length, defer)
    if length is None and not defer:
        raise ApiError(
            400, "missing_length", "Send Upload-Length, or Upload-Defer-Length: 1."
        )
    if length is not None and defer:
        raise ApiError(
            400, "invalid_header", "Upload-Length and Upload-Defer-Length exclude each other."
        )
    with_body = content_type(request) == OFFSET_CONTENT_TYPE
    if with_body:
        refuse_content_coding(request, "tus upload data")
    elif await brings_data(request):  # a chunked body too, not only one with a length
        raise ApiError(
            415, "unsupported_media_type",
            f"A creation request with data must use Content-Type: {OFFSET_CONTENT_TYPE}.",
        )
    kind = PARTIAL if concat is not None else SINGLE
    category_max = None
    if kind == SINGLE:
        facts = file_facts(metadata)
        refuse_bad_name(request.app, facts.filename)
        category_max = facts.category.max_size
    if length is not None:
        check_size(request, account, length, category_max, reserve=True)
    elif request.app[keys.ACCOUNTS].available(account) == 0:  # deferred: checked as bytes come
        raise ApiError(413, "quota_exceeded", "The quota is full: there is no room left.")
    upload = Upload(new_id(), account.id, length, 0, metadata, kind=kind)
    whole = with_body and sent_whole(request, upload)
    if not whole:  # one that completes in this request is never left unfinished
        check_room_for_unfinished(request, account)
        part = request.app[keys.STORAGE].upload_path(upload.id)
        create_part_file(part)
        try:
            upload_store(request.app).insert(upload)
        except BaseException:  # a full or read-only database: no orphan file either
            part.unlink(missing_ok=True)
            raise
    location = upload_url(request, upload.id)
    headers = {"Location": location}
    try:
        if whole:
            await receive_whole(request, account, upload, checksum)
        elif with_body and (request.content_length is None or request.content_length > 0):
            async with request.app[STATE].exclusive(upload.id):
                await write_body(request, account, upload, checksum)
        elif upload.length == 0:
            async with request.app[STATE].exclusive(upload.id):
                await after_write(request, account, upload)
    except ApiError as exc:
        if client_gone(request):
            _discard(request.app, upload)
        # A body sent whole that could not be kept (no room, see whole.py) left no upload.
        if not whole or upload_store(request.app).get(account.id, upload.id) is not None:
            exc.headers.setdefault("Location", location)
        raise
    except asyncio.CancelledError:  # the server stopping, or the client gone
        _discard(request.app, upload)
        raise
    headers.update(progress_headers(upload))
    headers["Location"] = created_location(request, upload)
    if not with_body:
        headers.pop("Upload-Offset")
    return reply(201, headers)


def _discard(app: web.Application, upload: Upload) -> None:
    """Forget an upload nobody can know the address of (see the module's docstring).

    Its progress ends too: the hub tracks every upload that received bytes until a final
    status, so each cut creation would otherwise leave its entry behind for good."""
    app[keys.PROGRESS].publish(upload.id, upload.offset, upload.length, "terminated")
    upload_store(app).delete(upload.id)
    app[STATE].forget(upload.id)
    app[keys.STORAGE].upload_path(upload.id).unlink(missing_ok=True)


async def _create_final(
    request: web.Request,
    account: Account,
    metadata: dict[str, str | None],
    parts: tuple[str, ...],
    length: int | None,
    defer: bool,
) -> web.Response:
    if length is not None or defer:
        raise ApiError(
            400, "invalid_header", "A final upload's length comes from its partial uploads."
        )
    if await brings_data(request):  # was answered 201 and dropped without a word
        raise ApiError(
            400, "invalid_concat",
            "A final upload is made of its partial uploads and takes no data of its own; "
            "send the data to a partial upload.",
        )
    facts = file_facts(metadata)
    refuse_bad_name(request.app, facts.filename)
    store = upload_store(request.app)
    for same in store.finals_made_of(account.id, list(parts)):
        answered = await _answer_same(request, account, same, metadata)
        if answered is not None:
            return answered
    others = [f for f in store.receiving_finals() if not set(f.parts).isdisjoint(parts)]
    stranded = [f for f in others if stranded_final(request.app, store, f)]
    claimed = {p for final in others if final not in stranded for p in final.parts}
    total: int | None = 0
    for part_id in parts:
        part = store.get(account.id, part_id)
        if part is None or part.kind != PARTIAL:
            raise ApiError(400, "invalid_concat", f"{part_id} is not one of your partial uploads.")
        if part.status != RECEIVING or part.expired():
            raise ApiError(400, "invalid_concat", f"Partial upload {part_id} is no longer usable.")
        if part_id in claimed:
            raise ApiError(
                400, "invalid_concat", f"Partial upload {part_id} belongs to another final upload."
            )
        total = None if total is None or part.length is None else total + part.length
    if total is not None:
        check_size(request, account, total, facts.category.max_size, reserve=False)
    final = Upload(new_id(), account.id, total, 0, metadata, kind=FINAL, parts=list(parts))
    store.insert(final)
    for other in stranded:  # no await since the check: none of them started meanwhile
        mark_failed(request.app, other, ApiError(
            410, "final_upload_superseded",
            "A newer final upload was made of this final upload's partial uploads.",
        ))
    location = upload_url(request, final.id)
    try:
        async with request.app[STATE].exclusive(final.id):
            await complete_final_if_ready(request.app, account, final)
    except ApiError as exc:
        exc.headers.setdefault("Location", location)
        raise
    headers = {"Location": created_location(request, final)}
    if final.duplicate_of is not None:
        headers[DUPLICATE_OF] = final.duplicate_of
    return reply(201, headers)


async def _answer_same(
    request: web.Request, account: Account, final: Upload, metadata: dict[str, str | None]
) -> web.Response | None:
    """Answer a creation with the final upload ``final`` made of the same parts and
    metadata, once stored; ``None``: not that case, create as usual.

    A creation's answer lost to a cut (a server crash, a dropped link) is retried by the
    client, while that completion runs on or the server has finished it on its own
    (``recovery.finish_stranded_finals``): the parts are taken or gone by then, and a 400
    would make the client send the whole file again for a file that is stored."""
    app = request.app
    if final.metadata != metadata or final.status == FAILED:
        return None
    if final.status == RECEIVING and not app[STATE].busy(final.id):
        return None  # waiting for a part, or stranded: ``_create_final`` decides
    async with app[STATE].exclusive(final.id, wait=True):  # a completion running: its end
        current = upload_store(app).get(account.id, final.id)
    if current is None or current.status != COMPLETED:
        return None
    record = FileStore(app[keys.DATABASE]).get(account.id, current.duplicate_of or current.id)
    if record is None:  # deleted since: these parts are long gone
        return None
    headers = {"Location": created_location(request, current)}
    if current.duplicate_of is not None:
        headers[DUPLICATE_OF] = current.duplicate_of
    return reply(201, headers)
