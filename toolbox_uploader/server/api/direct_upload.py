"""``POST /api/v1/files/upload`` and ``/upload/batch``: the seed's direct path for small files.

Bytes stream to ``storage.temp_path(id)`` (see ``receive``) and then go through the same
``finalize`` as a completed tus upload, so both paths apply identical checks.

Batch semantics: every file is received into a temporary file first; only when the
whole body has arrived and the manifest matches the files is anything stored. A
malformed request (bad JSON, count mismatch, malformed multipart) is refused with 400
and nothing is kept. Once the request is sound, each file succeeds or fails on its own
(wrong type, too large, checksum, quota); the response is ``200`` when all were stored
and ``207 Multi-Status`` when at least one was not, with one result per file.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from toolbox_uploader.core.categories import DEFAULT_CATEGORY, get_category
from toolbox_uploader.core.sizes import human_size
from toolbox_uploader.server import keys
from toolbox_uploader.server.accounts import Account
from toolbox_uploader.server.api import params
from toolbox_uploader.server.api.receive import (
    MAX_FIELD_BYTES,
    MAX_MANIFEST_BYTES,
    QuotaExceeded,
    Received,
    SizeExceeded,
    drain,
    next_part,
    open_multipart,
    read_field,
    receive_file,
)
from toolbox_uploader.server.auth import request_account
from toolbox_uploader.server.errors import ApiError
from toolbox_uploader.server.expect_continue import defer_continue
from toolbox_uploader.server.files_store import FileRecord
from toolbox_uploader.server.finalize import IncomingFile, finalize
from toolbox_uploader.server.storage import new_id
from toolbox_uploader.server.validation_hook import refuse_bad_name

log = logging.getLogger(__name__)

#: Direct uploads being received: file id -> owner id (so the WebSocket can find them).
DIRECT_UPLOADS: web.AppKey[dict[str, str]] = web.AppKey("direct_uploads", dict)

FILE_FIELD = "file"
BATCH_FILE_FIELDS = frozenset({"files", "file", "files[]"})
TEXT_FIELDS = frozenset(
    {"category", "relative_path", "title", "description", "tags", "sha256", "size"}
)
MAX_PARTS = 32
MAX_BATCH_FILES = 100


@dataclass(slots=True)
class FileFields:
    """What a client may say about one file, already checked."""

    category: str = DEFAULT_CATEGORY
    relative_path: str = ""
    title: str | None = None
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    sha256: str | None = None
    size: int | None = None

    @classmethod
    def from_mapping(cls, data: dict[str, Any], where: str = "") -> FileFields:
        def string(name: str) -> str | None:
            value = data.get(name)
            if value is not None and not isinstance(value, str):
                raise params.bad_request("invalid_field", f"{where}{name} must be a string.")
            return value

        size = data.get("size")
        if isinstance(size, int) and not isinstance(size, bool):
            size = str(size)
        elif size is not None and not isinstance(size, str):
            raise params.bad_request("invalid_field", f"{where}size must be a number.")
        return cls(
            category=params.category(string("category")) or DEFAULT_CATEGORY,
            relative_path=params.relative_path(string("relative_path")),
            title=params.text(string("title"), "title", params.MAX_TITLE),
            description=params.text(string("description"), "description", params.MAX_DESCRIPTION),
            tags=params.tags(data.get("tags")),
            sha256=params.sha256(string("sha256")),
            size=params.declared_size(size),
        )


def size_limit(app: web.Application, category: str) -> int:
    return min(app[keys.CONFIG].max_size, get_category(category).max_size)


def too_large(limit: int) -> ApiError:
    return ApiError(413, "too_large", f"The file is larger than the {human_size(limit)} limit.")


def quota_exceeded(available: int) -> ApiError:
    return ApiError(
        413, "quota_exceeded",
        f"The file does not fit in the account's quota; {human_size(available)} are left.",
    )


def check_declared(app: web.Application, account: Account, fields: FileFields) -> None:
    """Refuse up front when the client said how big the file is and it cannot fit."""
    if fields.size is None:
        return
    limit = size_limit(app, fields.category)
    if fields.size > limit:
        raise too_large(limit)
    available = app[keys.ACCOUNTS].available(account)
    if available is not None and fields.size > available:
        raise quota_exceeded(available)


async def _receive(
    request: web.Request, account: Account, part: BodyPartReader, file_id: str, limit: int,
    declared: int | None,
) -> Received:
    """Stream one file part to its temporary file, publishing progress as it goes.

    Its bytes are held against the quota as they come (``AccountStore.take``) until the
    file is stored or given up (``_forget``): parallel uploads see the room they take."""
    app = request.app
    hub = app[keys.PROGRESS]
    accounts = app[keys.ACCOUNTS]
    app[DIRECT_UPLOADS][file_id] = account.id
    try:
        return await receive_file(
            part, app[keys.STORAGE].temp_path(file_id), limit,
            lambda size: hub.publish(file_id, size, declared),
            lambda count: accounts.take(account, file_id, count),
        )
    except BaseException:
        _forget(app, file_id)
        hub.publish(file_id, 0, declared, "failed")  # also ends the hub's tracking of it
        raise


def _forget(app: web.Application, file_id: str) -> None:
    """The file is stored or given up: it is no longer a direct upload in progress."""
    app[DIRECT_UPLOADS].pop(file_id, None)
    app[keys.ACCOUNTS].release(file_id)


def _no_room(app: web.Application, account: Account) -> ApiError:
    return quota_exceeded(app[keys.ACCOUNTS].available(account) or 0)


async def _store(
    request: web.Request, account: Account, file_id: str, received: Received,
    filename: str, fields: FileFields,
) -> FileRecord:
    """Checks that need the whole file, then ``finalize``; publishes the final progress."""
    app = request.app
    hub = app[keys.PROGRESS]
    try:
        limit = size_limit(app, fields.category)
        if received.size > limit:
            received.path.unlink(missing_ok=True)
            raise too_large(limit)
        record = await finalize(app, IncomingFile(
            file_id=file_id, owner=account, path=received.path, filename=filename,
            relative_path=fields.relative_path, category=fields.category, size=received.size,
            sha256=received.sha256, expected_size=fields.size, expected_sha256=fields.sha256,
            title=fields.title, description=fields.description, tags=fields.tags,
        ))
    except ApiError as exc:
        hub.publish(file_id, received.size, fields.size or received.size, "failed", exc.message)
        raise
    except BaseException:
        received.path.unlink(missing_ok=True)
        hub.publish(file_id, received.size, fields.size or received.size, "failed")
        raise
    finally:
        _forget(app, file_id)
    hub.publish(file_id, record.size, record.size, "completed")
    return record


def _guard_length(request: web.Request, files: int) -> None:
    """An absurd ``Content-Length`` is refused before a byte of the body is read."""
    length = request.content_length
    if length is None:
        return
    per_file = request.app[keys.CONFIG].max_size
    allowance = files * per_file + MAX_PARTS * 2 * MAX_FIELD_BYTES + MAX_MANIFEST_BYTES
    if length > allowance:
        raise ApiError(413, "too_large", "The request body is larger than the server accepts.")


async def upload_single(request: web.Request) -> web.Response:
    account = request_account(request)
    _guard_length(request, 1)
    reader = await open_multipart(request)
    app = request.app
    raw: dict[str, str] = {}
    file_id = new_id()
    received: Received | None = None
    filename = ""
    parts = 0
    try:
        while (part := await next_part(reader)) is not None:
            parts += 1
            if parts > MAX_PARTS:
                raise params.bad_request("too_many_parts", "The form has too many fields.")
            if part.name == FILE_FIELD or part.filename is not None:
                if part.name != FILE_FIELD or received is not None:
                    raise params.bad_request(
                        "one_file_only", "Send exactly one file, in the field named 'file'."
                    )
                fields = FileFields.from_mapping(raw)  # the fields so far: refuse early
                check_declared(app, account, fields)
                filename = params.filename(part.filename)
                refuse_bad_name(app, filename)
                limit = size_limit(app, fields.category)
                try:
                    received = await _receive(request, account, part, file_id, limit,
                                              fields.size)
                except QuotaExceeded:
                    raise _no_room(app, account) from None
                except SizeExceeded:
                    raise too_large(limit) from None
            elif part.name in TEXT_FIELDS:
                if part.name in raw:
                    raise params.bad_request("duplicate_field", f"{part.name} was sent twice.")
                raw[part.name] = await read_field(part)
            else:  # unknown fields (a form's submit button) are ignored
                await drain(part, MAX_FIELD_BYTES, _unknown_too_large(part))
        if received is None:
            raise params.bad_request("no_file", "The form has no file in a field named 'file'.")
        fields = FileFields.from_mapping(raw)
    except BaseException:
        if received is not None:
            received.path.unlink(missing_ok=True)
            app[keys.PROGRESS].publish(file_id, received.size, None, "failed")
        _forget(app, file_id)
        raise
    record = await _store(request, account, file_id, received, filename, fields)
    return web.json_response(
        record.to_json(), status=201, headers={"Location": f"/api/v1/files/{record.id}"}
    )


@dataclass(slots=True)
class _BatchItem:
    index: int
    file_id: str
    filename: str
    received: Received | None = None
    error: ApiError | None = None


def parse_manifest(text: str) -> list[FileFields]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # absurd nesting ends in RecursionError
        raise params.bad_request("invalid_manifest", "The manifest is not valid JSON.") from None
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        raise params.bad_request(
            "invalid_manifest", "The manifest must be a JSON list with one object per file."
        )
    return [FileFields.from_mapping(e, f"manifest[{i}].") for i, e in enumerate(data)]


async def upload_batch(request: web.Request) -> web.Response:
    account = request_account(request)
    _guard_length(request, MAX_BATCH_FILES)
    reader = await open_multipart(request)
    app = request.app
    manifest: list[FileFields] | None = None
    items: list[_BatchItem] = []
    parts = 0
    try:
        while (part := await next_part(reader)) is not None:
            parts += 1
            if parts > MAX_BATCH_FILES + MAX_PARTS:
                raise params.bad_request("too_many_parts", "The form has too many parts.")
            if part.name == "manifest" and part.filename is None:
                if manifest is not None:
                    raise params.bad_request("duplicate_field", "manifest was sent twice.")
                manifest = parse_manifest(await read_field(part, MAX_MANIFEST_BYTES))
            elif part.name in BATCH_FILE_FIELDS or part.filename is not None:
                if len(items) >= MAX_BATCH_FILES:
                    raise params.bad_request(
                        "too_many_files", f"A batch holds at most {MAX_BATCH_FILES} files."
                    )
                items.append(await _receive_batch_file(request, account, part, manifest, items))
            else:
                await drain(part, MAX_FIELD_BYTES, _unknown_too_large(part))
        if manifest is None:
            raise params.bad_request("missing_manifest", "The batch has no manifest field.")
        if not items:
            raise params.bad_request("no_file", "The batch has no files.")
        if len(manifest) != len(items):
            raise params.bad_request(
                "manifest_mismatch",
                f"The manifest describes {len(manifest)} files but {len(items)} were sent.",
            )
    except BaseException:
        for item in items:
            if item.received is not None:
                item.received.path.unlink(missing_ok=True)
            _forget(app, item.file_id)
            app[keys.PROGRESS].publish(item.file_id, 0, None, "failed")
        raise
    try:
        results = [await _store_batch_item(request, account, item, fields)
                   for item, fields in zip(items, manifest, strict=True)]
    finally:  # cancelled half-way (client gone, shutdown): leave no temporary files
        for item in items:
            if item.received is not None:
                item.received.path.unlink(missing_ok=True)
            _forget(app, item.file_id)
    stored = sum(1 for result in results if result["status"] == 201)
    body = {
        "batch_id": new_id(),
        "total_files": len(items),
        "successful_uploads": stored,
        "failed_uploads": len(items) - stored,
        "results": results,
    }
    return web.json_response(body, status=200 if stored == len(items) else 207)


async def _store_batch_item(
    request: web.Request, account: Account, item: _BatchItem, fields: FileFields
) -> dict[str, Any]:
    """One file's result; its failure is reported, never raised, so the others go on."""
    result: dict[str, Any] = {"index": item.index, "filename": item.filename}
    try:
        if item.error is not None:
            raise item.error
        assert item.received is not None
        record = await _store(request, account, item.file_id, item.received,
                              item.filename, fields)
    except ApiError as exc:
        result.update(status=exc.status, error=exc.code, message=exc.message)
    except Exception:  # one file's storage trouble must not lose the others
        log.exception("storing batch file %s failed", item.index)
        result.update(status=500, error="internal_error", message="The file could not be stored.")
    else:
        result.update(status=201, file=record.to_json())
    return result


async def _receive_batch_file(
    request: web.Request, account: Account, part: BodyPartReader,
    manifest: list[FileFields] | None, items: list[_BatchItem],
) -> _BatchItem:
    """Receive one batch file. Too large for its category: that file fails, the rest go on.

    Beyond the server's absolute ``max_size`` the whole request is refused, since
    reading on would mean swallowing an unbounded body.
    """
    app = request.app
    max_size = app[keys.CONFIG].max_size
    index = len(items)
    item = _BatchItem(index, new_id(), params.filename(part.filename))
    fields = manifest[index] if manifest is not None and index < len(manifest) else None
    limit = size_limit(app, fields.category) if fields is not None else max_size
    try:
        if fields is not None:
            check_declared(app, account, fields)
        item.received = await _receive(
            request, account, part, item.file_id, limit, fields.size if fields else None
        )
    except SizeExceeded as exc:
        item.error = _no_room(app, account) if isinstance(exc, QuotaExceeded) else too_large(limit)
        await drain(part, max_size - exc.received, _BATCH_FILE_TOO_LARGE)
    except ApiError as exc:
        if exc.code not in ("too_large", "quota_exceeded"):
            raise
        item.error = exc
        await drain(part, max_size, _BATCH_FILE_TOO_LARGE)
    return item


_BATCH_FILE_TOO_LARGE = ApiError(
    413, "too_large", "A file in the batch is larger than the server accepts."
)


def _unknown_too_large(part: BodyPartReader) -> ApiError:
    return params.bad_request(
        "field_too_large", f"The unknown field {str(part.name)[:64]!r} is too large."
    )


def setup(app: web.Application) -> None:
    # ``100 Continue`` only once the head passed its checks (``expect_continue``).
    app.router.add_post("/api/v1/files/upload", upload_single, expect_handler=defer_continue)
    app.router.add_post("/api/v1/files/upload/batch", upload_batch,
                        expect_handler=defer_continue)
    app[DIRECT_UPLOADS] = {}
