"""Every failure leaves the server as JSON ``{"error": CODE, "message": TEXT}``, no traceback."""

from __future__ import annotations

import errno
import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

log = logging.getLogger(__name__)

TUS_RESUMABLE = "1.0.0"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """Raised by handlers; the middleware turns it into a JSON response."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        *,
        close: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        #: End the connection after the answer instead of reading the unread body to
        #: keep it alive (aiohttp reads on for up to 10 s: for a compressed body, that
        #: is the decompression the answer refused).
        self.close = close


def json_error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps({"error": code, "message": message}),
        content_type="application/json",
        headers=headers,
    )


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    412: "precondition_failed",
    413: "too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    417: "expectation_failed",
    423: "locked",
    460: "checksum_mismatch",
}


#: Seconds a client told the server's storage failed should wait before trying again.
STORAGE_RETRY_AFTER = "30"
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_UNAVAILABLE_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO})
_UNAVAILABLE_SQLITE = frozenset({
    sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED,
})


def disk_full() -> ApiError:
    return ApiError(507, "disk_full", "The server's disk is full; try again later.",
                    {"Retry-After": STORAGE_RETRY_AFTER})


def storage_failure(exc: BaseException) -> ApiError | None:
    """The answer for a failure of the server's own disk or database, or ``None``.

    A full disk (``ENOSPC``, a quota, SQLite's ``SQLITE_FULL``) is a 507 and a disk or
    database that cannot be written (read-only, I/O error, locked) a 503, both with
    ``Retry-After``: the client did nothing wrong and can carry on once the server's
    owner has made room. Anything else is ``None`` (a bug: 500)."""
    if isinstance(exc, sqlite3.Error):
        primary = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # extended codes carry it low
        if primary == sqlite3.SQLITE_FULL:
            return disk_full()
        if primary not in _UNAVAILABLE_SQLITE:
            return None
    elif isinstance(exc, OSError) and not isinstance(exc, ConnectionError):
        if exc.errno in _FULL_ERRNOS:
            return disk_full()
        if exc.errno not in _UNAVAILABLE_ERRNOS:
            return None
    else:
        return None
    return ApiError(503, "storage_unavailable",
                    "The server cannot write to its storage just now; try again later.",
                    {"Retry-After": STORAGE_RETRY_AFTER})


def client_gone(request: web.Request) -> bool:
    """Has the client's connection closed (so an answer would reach nobody)?"""
    transport = request.transport
    return transport is None or transport.is_closing()


def _is_tus(request: web.Request) -> bool:
    return request.path.startswith("/api/v1/storage/tus")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        response = json_error(exc.status, exc.code, exc.message, exc.headers)
        if exc.close:
            response.force_close()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        message = exc.text if exc.text and not exc.text.startswith(str(exc.status)) else exc.reason
        response = json_error(exc.status, code, message or exc.reason)
        for name in ("Allow", "Retry-After"):
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
    except TimeoutError:
        raise
    except ConnectionError as exc:
        if not client_gone(request):  # our own connection (e.g. to a scanner) failed
            log.exception("unhandled error on %s %s", request.method, request.path)
            response = json_error(
                500, "internal_error", "The server could not handle this request."
            )
        else:
            # Raised, aiohttp would log it with a traceback; an answer nobody reads is
            # quiet (a client cutting uploads short must not be able to flood the log).
            log.debug("%s %s: the client went away (%s)", request.method, request.path, exc)
            response = json_error(400, "incomplete_body", "The client went away.")
    except Exception as exc:
        failure = storage_failure(exc)
        if failure is None:
            log.exception("unhandled error on %s %s", request.method, request.path)
            response = json_error(
                500, "internal_error", "The server could not handle this request."
            )
        else:  # the owner must hear of it, but one line per request is enough
            log.error("%s %s: storage failed: %s", request.method, request.path, exc)
            response = json_error(failure.status, failure.code, failure.message,
                                  failure.headers)
    if _is_tus(request) and request.method != "OPTIONS":
        response.headers.setdefault("Tus-Resumable", TUS_RESUMABLE)
    return response


async def plain_errors_as_json(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: an error aiohttp answers by itself, outside the middleware,
    leaves as JSON too.

    aiohttp checks ``Expect`` before any middleware runs and answers an unknown one with
    a plain-text 417 (``Unknown Expect: …``) on every route, known or not. Whatever such
    plain-text error reaches this hook gets the body every other error has; the headers
    are not sent yet, so its type and length can still change.
    """
    if (response.status < 400 or not isinstance(response, web.Response)
            or response.content_type != "text/plain" or not isinstance(response.body, bytes)):
        return
    text = response.body.decode("utf-8", "replace").strip()
    message = text if text and not text.startswith(str(response.status)) else response.reason
    body = json.dumps({
        "error": _HTTP_CODES.get(response.status, "http_error"), "message": message,
    }).encode()
    response.body = body
    response.content_type = "application/json"
    if "Content-Length" in response.headers:
        response.headers["Content-Length"] = str(len(body))
    if _is_tus(request) and request.method != "OPTIONS":
        response.headers.setdefault("Tus-Resumable", TUS_RESUMABLE)
