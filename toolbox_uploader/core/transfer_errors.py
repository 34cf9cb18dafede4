"""What went wrong with a transfer, and what the engine should do about it.

Failures are classified by exception type and HTTP status (plus the server's machine
``error`` code where a status alone is ambiguous) — never by matching message text, which
servers are free to reword or translate.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import ssl
import time
from enum import StrEnum

import httpx


class ErrorKind(StrEnum):
    TRANSIENT = "transient"  # conn reset, timeouts, 5xx, 423, 429 (retry_after), 409 race
    OFFLINE = "offline"  # server unreachable: keep trying, "waiting for network"
    AUTH = "auth"  # 401/403: pause the queue, ask for sign-in
    RESTART = "restart"  # 404/410 upload gone, or end-to-end hash mismatch: start over (once)
    FATAL = "fatal"  # 400, 413, 415, 422, repeated 460, local file unreadable: stop


class TransferError(Exception):
    """A classified transfer failure; ``message`` is fit to show to a teacher."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.code = code
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.kind in (ErrorKind.TRANSIENT, ErrorKind.OFFLINE)

    def __repr__(self) -> str:
        return (
            f"TransferError({self.kind.value!r}, {self.message!r}, status={self.status}, "
            f"code={self.code!r}, retry_after={self.retry_after})"
        )


# Machine codes a toolbox server gives (with 400) when the completed file does not match the
# size or sha256 declared with it: the bytes are wrong, so the file is sent again rather than
# given up on. A 460 (one request's checksum) is handled by re-sending that request instead.
_RESTART_CODES = frozenset({"checksum_mismatch", "sha256_mismatch", "size_mismatch"})

_TRANSIENT_STATUSES = frozenset({408, 409, 423, 425, 429, 500, 502, 503, 504})


#: The longest ``Retry-After`` honoured, in seconds.
RETRY_AFTER_CAP = 24 * 3600.0


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date).

    Capped at a day: a server's typo must not park an upload for years (or overflow)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return RETRY_AFTER_CAP if len(value) > 6 else min(float(value), RETRY_AFTER_CAP)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return min(max(0.0, when.timestamp() - current), RETRY_AFTER_CAP)


def _error_body(response: httpx.Response) -> tuple[str | None, str | None]:
    """The ``{"error", "message"}`` of a JSON error body, if the body was read and is one."""
    try:
        content = response.content
    except httpx.ResponseNotRead:
        return None, None
    if not content:
        return None, None
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        # A short plain-text answer says something; an HTML error page (a web server that
        # is not a tus server, a proxy) would only bury the status under markup.
        if not response.headers.get("Content-Type", "").lower().startswith("text/plain"):
            return None, None
        text = " ".join(content[:300].decode("utf-8", "replace").split())
        return None, text or None
    if not isinstance(data, dict):
        return None, None
    code = data.get("error")
    message = data.get("message")
    return (
        code if isinstance(code, str) else None,
        message if isinstance(message, str) else None,
    )


def classify_response(response: httpx.Response) -> TransferError:
    """Turn a non-2xx response into a TransferError (read the body first for its message)."""
    status = response.status_code
    code, server_message = _error_body(response)
    reason = response.reason_phrase or "error"
    message = server_message or f"The server answered {status} {reason}."
    if status in (404, 410) and not server_message:  # a bare answer, as many tus servers give
        message = (f"The server no longer has this upload ({status} {reason}): it expired "
                   "or was removed there.")
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status in (401, 403):
        kind = ErrorKind.AUTH
    elif status in (404, 410) or (code in _RESTART_CODES and status != 460):
        kind = ErrorKind.RESTART
    elif status in _TRANSIENT_STATUSES or (status >= 500 and status != 501):
        kind = ErrorKind.TRANSIENT
    else:  # 400, 412, 413, 415, 422, 460 (once it repeats), 501 ...
        kind = ErrorKind.FATAL
    return TransferError(kind, message, status=status, code=code, retry_after=retry_after)


#: TLS errors that a later try may not meet (a connection cut mid-handshake).
_PASSING_TLS_ERRORS = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError,
                       ssl.SSLWantReadError, ssl.SSLWantWriteError)


def _tls_failure(exc: BaseException) -> str | None:
    """What went wrong in TLS, when the failure (or what caused it) is one that waiting
    will not mend: an untrusted certificate, or HTTPS to a port that speaks plain HTTP."""
    seen: BaseException | None = exc
    for _ in range(8):  # the chain of causes is short; bounded all the same
        if seen is None:
            return None
        if isinstance(seen, _PASSING_TLS_ERRORS):
            return None
        # aiohttp's wrappers are SSLErrors too, without the ``reason`` of the real one.
        reason = getattr(seen, "reason", None) if isinstance(seen, ssl.SSLError) else None
        if reason:
            return str(reason)
        seen = seen.__cause__ or seen.__context__
    return None


def classify_exception(exc: BaseException) -> TransferError:
    """Classify an exception raised while talking to the server or reading the source."""
    if isinstance(exc, TransferError):
        return exc
    detail = str(exc) or type(exc).__name__
    tls = _tls_failure(exc)
    if tls is not None:
        return TransferError(
            ErrorKind.FATAL,
            f"The secure connection failed ({tls}); check whether the address should start "
            "with http or https, and the server's certificate.",
        )
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return TransferError(ErrorKind.OFFLINE,
                             f"The server cannot be reached ({_why_not_connected(exc, detail)}).")
    if isinstance(exc, httpx.TimeoutException):
        return TransferError(ErrorKind.TRANSIENT, f"The server stopped answering ({detail}).")
    if isinstance(exc, httpx.TransportError):  # ReadError, WriteError, RemoteProtocolError ...
        return TransferError(ErrorKind.TRANSIENT, f"The connection was interrupted ({detail}).")
    if isinstance(exc, httpx.HTTPStatusError):
        return classify_response(exc.response)
    if isinstance(exc, ssl.SSLError):  # one of the passing kinds: try again
        return TransferError(ErrorKind.TRANSIENT, f"The secure connection was cut ({detail}).")
    if isinstance(exc, ConnectionRefusedError):
        return TransferError(ErrorKind.OFFLINE, f"The server cannot be reached ({detail}).")
    if isinstance(exc, ConnectionError | TimeoutError | asyncio.TimeoutError):
        return TransferError(ErrorKind.TRANSIENT, f"The connection was interrupted ({detail}).")
    if isinstance(exc, FileNotFoundError):
        return TransferError(ErrorKind.FATAL, f"The file is no longer there ({detail}).")
    if isinstance(exc, PermissionError):
        return TransferError(ErrorKind.FATAL, f"The file cannot be read ({detail}).")
    if isinstance(exc, OSError):
        return TransferError(ErrorKind.FATAL, f"Reading the file failed ({detail}).")
    return TransferError(ErrorKind.FATAL, f"Unexpected error: {type(exc).__name__}: {detail}")


def _why_not_connected(exc: BaseException, detail: str) -> str:
    """The operating system's reason ("connection refused", "name or service not known")
    rather than the HTTP library's wording of it, which names its own internals."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, OSError) and cause.errno:
            if cause.errno > 0:
                return os.strerror(cause.errno).lower()
            # A name look-up failure (``socket.gaierror`` numbers are negative).
            return f"the server's name was not found: {str(cause.strerror).lower()}"
        cause = cause.__cause__ or cause.__context__
    return "no answer" if isinstance(exc, httpx.ConnectTimeout) else detail


def backoff_delay(attempt: int, *, base: float = 1.0, cap: float = 60.0) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**attempt)]."""
    ceiling = min(cap, base * (2 ** max(0, min(attempt, 30))))
    return random.uniform(0.0, ceiling)


def retry_delay(
    error: TransferError, attempt: int, *, base: float = 1.0, cap: float = 60.0
) -> float:
    """How long to wait before the next try: the backoff, but never less than Retry-After."""
    delay = backoff_delay(attempt, base=base, cap=cap)
    if error.retry_after is not None:
        delay = max(delay, error.retry_after)
    return delay
