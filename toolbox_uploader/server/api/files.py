"""``/api/v1/files``: list, describe, download and delete the account's stored files.

Downloads use aiohttp's ``FileResponse`` (sendfile, ``Range``, ``If-Range``, ETag).
Unsatisfiable ranges are answered here first, and a failed ``If-Match`` by
``_DownloadResponse``, so that even a 416 or a 412 carries the JSON error body every
other error has. A stored file is always sent as an attachment with
``nosniff`` and a sandboxing CSP, and active types (HTML, SVG, XML, scripts) are sent as
``application/octet-stream``: an uploaded page must never run in the server's origin.

A client that stops reading a download (its receive window stays shut) would hold the
handler, its file and its connection for good: aiohttp has no send timeout, and the
kernel keeps probing a peer that answers with a zero window forever. The download's
socket gets ``TCP_USER_TIMEOUT`` = the server's idle timeout (the one request bodies get,
``tus_idle_timeout``), so the kernel gives up on a reader stalled that long.

A file whose bytes went behind the server's back (a clean-up of the data folder, a
restored backup) keeps its row, so an admin sees it, with ``status: "missing"`` (its
download is a 410); a look-up by ``sha256`` leaves it out: a client asks that to learn
whether a file it lost track of arrived, and would skip a file the server does not have.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import re
import socket
from dataclasses import replace
from urllib.parse import quote

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter

from toolbox_uploader.server import keys
from toolbox_uploader.server.api import params
from toolbox_uploader.server.auth import request_account
from toolbox_uploader.server.errors import ApiError
from toolbox_uploader.server.files_store import FileRecord, FileStore
from toolbox_uploader.server.single_values import single_param
from toolbox_uploader.server.storage import Storage
from toolbox_uploader.server.tus.receive import idle_timeout

log = logging.getLogger(__name__)

ACTIVE_TYPES = frozenset({
    "text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml",
    "text/javascript", "application/javascript", "application/x-javascript",
    "application/ecmascript", "text/ecmascript", "application/pdf+html",
})
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$", re.ASCII | re.IGNORECASE)
#: The ``status`` of a file whose row is there but whose bytes are not.
MISSING = "missing"


def _as_found(storage: Storage, record: FileRecord) -> FileRecord:
    """``record``, marked ``missing`` when its bytes are gone (one ``stat``)."""
    if storage.file_path(record.id).is_file():
        return record
    return replace(record, status=MISSING)


def _record(request: web.Request) -> FileRecord:
    account = request_account(request)
    file_id = params.file_id(request.match_info["file_id"])
    record = FileStore(request.app[keys.DATABASE]).get(account.id, file_id)
    if record is None:
        raise params.not_found()
    return record


async def list_files(request: web.Request) -> web.Response:
    account = request_account(request)
    query = request.query
    limit, offset = params.pagination(query)
    category = params.category(single_param(query, "category"), default=None)
    sha256 = params.sha256(single_param(query, "sha256"))
    raw_path = single_param(query, "relative_path")
    relative_path = params.relative_path(raw_path) if raw_path is not None else None
    files, storage = FileStore(request.app[keys.DATABASE]), request.app[keys.STORAGE]
    if sha256 is None:
        records, total = files.list(account.id, category, limit, offset,
                                    relative_path=relative_path)
        records = [_as_found(storage, r) for r in records]
    else:  # "is this file on the server?": only copies whose bytes are there
        found = [r for r in files.matching(account.id, category, sha256, relative_path)
                 if _as_found(storage, r).status != MISSING]
        records, total = found[offset:offset + limit], len(found)
    return web.json_response({
        "files": [r.to_json() for r in records],
        "total": total,
        "limit": limit,
        "offset": offset,
    })


async def get_file(request: web.Request) -> web.Response:
    return web.json_response(_as_found(request.app[keys.STORAGE], _record(request)).to_json())


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback and the exact name per RFC 5987/6266.

    The fallback keeps only harmless printable ASCII, so no stored name can end the
    quoted string or inject a header (CR/LF never survive either form).
    """
    fallback = "".join(
        c if 32 <= ord(c) < 127 and c not in '"\\;%' else "_" for c in filename
    ).strip() or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _download_type(mime: str | None) -> str:
    mime = (mime or "").split(";", 1)[0].strip().lower()
    if not mime or mime in ACTIVE_TYPES or "/" not in mime:
        return "application/octet-stream"
    return mime


def _if_range_holds(request: web.Request, etag: str) -> bool:
    """May ``Range`` be served, as far as ``If-Range`` is concerned (RFC 9110 §13.1.5)?

    aiohttp only understands a date there: an entity tag, which is what most clients
    send back, was taken as no condition at all, and a stale client got a 206 piece of a
    file that had changed. Only a strong tag equal to the file's allows the range; a weak
    one never does, nor does anything that is neither a tag nor a date. A date is left to
    ``FileResponse``, which compares it with the file's modification time.
    """
    values = request.headers.getall("If-Range", [])
    if not values:
        return True
    if len(set(values)) > 1:
        return False
    value = values[0].strip()
    if value.startswith('"'):
        return value == f'"{etag}"'
    if value.startswith("W/"):
        return False
    return request.if_range is not None


def _etag(stat: os.stat_result) -> str:
    """The strong ETag ``FileResponse`` sends for a file with this ``stat``."""
    return f"{stat.st_mtime_ns:x}-{stat.st_size:x}"


def _range_answer(request: web.Request, size: int) -> str:
    """What to do with ``Range`` (RFC 9110 §14): ``"serve"`` it (or there is none),
    ``"ignore"`` it and send the whole file, or answer 416 (``"unsatisfiable"``).

    An unknown unit must be ignored; several ranges, or one that is not a valid byte range,
    may be: the whole file is always a correct answer. With ``If-Range`` an unsatisfiable
    range is ignored too, rather than letting ``FileResponse`` send a plain-text 416."""
    header = request.headers.get("Range")
    if header is None:
        return "serve"
    match = _RANGE.match(header.strip())
    if match is None:
        return "ignore"
    first, last = match.groups()
    if first == "" and last == "":
        return "ignore"
    if first == "":
        unsatisfiable = int(last) == 0 or size == 0  # suffix range: the last N bytes
    elif last != "" and int(last) < int(first):
        return "ignore"
    else:
        unsatisfiable = int(first) >= size
    if not unsatisfiable:
        return "serve"
    return "ignore" if "If-Range" in request.headers else "unsatisfiable"


class _DownloadResponse(web.FileResponse):
    """``FileResponse`` whose 412 (a failed ``If-Match`` or ``If-Unmodified-Since``)
    carries the JSON error every other error has; aiohttp's own is an empty text/plain
    body that still says ``Content-Disposition: attachment``, so a browser would save an
    empty "download" instead of showing an error. A reader that stalls is cut (see the
    module's docstring)."""

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        seconds = idle_timeout(request.app) if isinstance(request, web.Request) else 0.0
        if seconds > 0:
            _give_up_on_stalled_reader(request, seconds)
        try:
            return await super().prepare(request)  # sends the file
        except TimeoutError:  # ETIMEDOUT from the kernel: nobody is reading
            log.info("a download was cut: its client read nothing for %g s", seconds)
            if request.transport is not None:
                request.transport.abort()
            return self._payload_writer

    async def _precondition_failed(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        body = json.dumps({
            "error": "precondition_failed",
            "message": "The file does not match If-Match / If-Unmodified-Since; not sent.",
        }).encode()
        self.set_status(412)
        for name in ("Content-Disposition", "Repr-Digest"):
            self.headers.pop(name, None)
        self.content_type = "application/json"
        self.content_length = len(body)
        writer = await super(web.FileResponse, self).prepare(request)
        if request.method != "HEAD":
            await self.write(body)
        return writer


class _WholeFileResponse(_DownloadResponse):
    """The whole file, whatever ``Range`` said (``FileResponse`` reads it from the request
    it is prepared with, so it gets one without it)."""

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        headers = request.headers.copy()
        for name in ("Range", "If-Range"):
            headers.popall(name, None)
        return await super().prepare(request.clone(headers=headers))


async def file_content(request: web.Request) -> web.StreamResponse:
    record = _record(request)
    path = request.app[keys.STORAGE].file_path(record.id)
    if not path.is_file():
        raise ApiError(410, "gone", "The file's bytes are no longer on the server.")
    stat = path.stat()
    size = stat.st_size
    answer = _range_answer(request, size)
    if answer == "serve" and "Range" in request.headers and not _if_range_holds(
            request, _etag(stat)):
        answer = "ignore"
    if answer == "unsatisfiable":
        raise ApiError(
            416, "range_not_satisfiable", f"The file has {size} bytes; that range is outside it.",
            {"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
        )
    digest = base64.b64encode(bytes.fromhex(record.sha256)).decode("ascii")
    response = _WholeFileResponse if answer == "ignore" else _DownloadResponse
    return response(path, headers={
        "Content-Type": _download_type(record.mime_type),
        "Content-Disposition": content_disposition(record.filename),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-cache",
        "Repr-Digest": f"sha-256=:{digest}:",
    })


def _give_up_on_stalled_reader(request: web.BaseRequest, seconds: float) -> None:
    """Let the kernel end this connection when sent bytes wait ``seconds`` unread."""
    sock = request.transport.get_extra_info("socket") if request.transport else None
    option = getattr(socket, "TCP_USER_TIMEOUT", None)  # Linux
    if sock is None or option is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    with contextlib.suppress(OSError):  # not TCP after all, or refused: no limit then
        sock.setsockopt(socket.IPPROTO_TCP, option, max(1, int(seconds * 1000)))


async def delete_file(request: web.Request) -> web.Response:
    """Remove the row first, then the bytes: a listing never points at missing bytes."""
    record = _record(request)
    if not FileStore(request.app[keys.DATABASE]).delete(record.owner, record.id):
        raise params.not_found()
    try:
        request.app[keys.STORAGE].remove_file(record.id)
    except OSError as exc:  # the row is gone; leftover bytes are only disk space
        request.app.logger.warning("could not remove bytes of %s: %s", record.id, exc)
    return web.Response(status=204)


def setup(app: web.Application) -> None:
    one = f"/api/v1/files/{{file_id:{params.ID_ROUTE}}}"
    app.router.add_get("/api/v1/files", list_files, allow_head=False)
    app.router.add_get(one, get_file, allow_head=False)
    app.router.add_delete(one, delete_file)
    app.router.add_get(f"{one}/content", file_content)
