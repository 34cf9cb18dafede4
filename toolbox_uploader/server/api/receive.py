"""Reading ``multipart/form-data`` bodies as streams: small text fields and file parts.

A file part goes to a temporary file chunk by chunk while its SHA-256 is computed, so
memory stays bounded (one ``FLUSH_BYTES`` buffer) whatever the file's size; the write
and the hash run in a worker thread so the event loop keeps serving other requests.
Size limits are enforced as bytes arrive: an oversized file is refused at the first
byte over the limit, not after it has filled the disk.

aiohttp's ``MultipartReader`` raises ``ValueError``/``AssertionError``/``RuntimeError``
on malformed bodies; ``multipart_errors`` turns all of those into a 400. A body that stops
arriving for the server's idle timeout (as for tus, ``tus_idle_timeout``) is a 400 too,
rather than a request that holds its temporary file open forever; one that only drips
(``body_pace``) is a 408.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.client_exceptions import ClientPayloadError
from aiohttp.http_exceptions import HttpProcessingError, InvalidHeader
from aiohttp.web_protocol import RequestPayloadError

from toolbox_uploader.server.body_pace import BodyPace
from toolbox_uploader.server.content_coding import refuse_content_coding
from toolbox_uploader.server.errors import ApiError, storage_failure
from toolbox_uploader.server.expect_continue import send_continue
from toolbox_uploader.server.tus.receive import DEFAULT_IDLE_TIMEOUT, idle_timeout

log = logging.getLogger(__name__)

READ_BYTES = 256 * 1024
FLUSH_BYTES = 1024 * 1024
MAX_FIELD_BYTES = 64 * 1024
MAX_MANIFEST_BYTES = 1024 * 1024
_IDENTITY = {"", "identity", "binary", "7bit", "8bit"}
_T = TypeVar("_T")
#: The idle timeout of the request being read (set by ``open_multipart``, per handler task).
_IDLE: ContextVar[float] = ContextVar("multipart_idle_timeout", default=DEFAULT_IDLE_TIMEOUT)
#: The pace of the body being read (set by ``open_multipart``, per handler task).
_PACE: ContextVar[BodyPace | None] = ContextVar("multipart_pace", default=None)


class _TooSlow(Exception):
    """The body brings too little in a whole window (``body_pace``)."""


async def _within_idle(read: Awaitable[_T]) -> _T:
    """``read``, or ``TimeoutError`` when the body sends nothing for the idle timeout."""
    result = await asyncio.wait_for(read, _IDLE.get())
    pace = _PACE.get()
    if pace is not None:
        if isinstance(result, bytes):
            pace.add(len(result))
        if pace.too_slow():
            raise _TooSlow(pace.describe())
    return result


async def _chunk(part: BodyPartReader) -> bytes:
    return await _within_idle(part.read_chunk(READ_BYTES))


@contextmanager
def multipart_errors() -> Iterator[None]:
    """Malformed or cut-off multipart bodies become ``400 bad_multipart``."""
    try:
        yield
    except ApiError:
        raise
    except TimeoutError:
        raise ApiError(
            400, "incomplete_body",
            f"The request body stopped arriving ({_IDLE.get():g} s without data).",
        ) from None
    except _TooSlow as exc:
        raise ApiError(408, "too_slow", f"The request body arrived too slowly ({exc}).") from None
    except ConnectionError:  # the client went away mid-body: the same answer as for tus
        raise ApiError(400, "incomplete_body", "The request body ended early.") from None
    except (ValueError, AssertionError, RuntimeError, LookupError) as exc:
        raise ApiError(400, "bad_multipart", f"The multipart body is malformed: {exc}") from None
    except InvalidHeader as exc:  # a part's own header lines, parsed by the multipart reader
        raise ApiError(400, "bad_multipart", "The multipart body is malformed: a part has an "
                       f"invalid header line ({_one_line(exc)}).") from None
    except (ClientPayloadError, HttpProcessingError, RequestPayloadError) as exc:
        raise ApiError(
            400, "bad_body", f"The request body could not be read: {_one_line(exc)}"
        ) from None


def _one_line(exc: Exception) -> str:
    """aiohttp's ``400, message:\\n  Invalid HTTP header: …`` as one line, for a JSON message."""
    if isinstance(exc, HttpProcessingError) and exc.message:
        return " ".join(str(exc.message).split())
    return " ".join(str(exc).split())


async def open_multipart(request: web.Request) -> MultipartReader:
    if request.content_type != "multipart/form-data":
        raise ApiError(
            415, "unsupported_media_type", "Send the file as multipart/form-data."
        )
    refuse_content_coding(request, "the form")
    _IDLE.set(idle_timeout(request.app))
    _PACE.set(BodyPace(_IDLE.get()))
    await send_continue(request)
    with multipart_errors():
        return await request.multipart()


async def next_part(reader: MultipartReader) -> BodyPartReader | None:
    with multipart_errors():
        part = await _within_idle(reader.next())
    if part is None:
        return None
    if not isinstance(part, BodyPartReader):
        raise ApiError(400, "bad_multipart", "Nested multipart bodies are not accepted.")
    if not part.name:
        raise ApiError(
            400, "bad_multipart", "Every part needs a valid Content-Disposition with a name."
        )
    encoding = part.headers.get("Content-Encoding", "").lower()
    transfer = part.headers.get("Content-Transfer-Encoding", "").lower()
    if encoding not in _IDENTITY or transfer not in _IDENTITY:
        raise ApiError(400, "bad_multipart", "Encoded multipart parts are not accepted.")
    return part


async def read_field(part: BodyPartReader, limit: int = MAX_FIELD_BYTES) -> str:
    """A text field, refused (400) when longer than ``limit`` bytes or not valid text."""
    data = bytearray()
    with multipart_errors():
        while chunk := await _chunk(part):
            data += chunk
            if len(data) > limit:
                raise ApiError(
                    400, "field_too_large", f"The field {part.name!r} is longer than {limit} bytes."
                )
        charset = part.get_charset("utf-8")
    try:
        return data.decode(charset)
    except (UnicodeDecodeError, LookupError):
        raise ApiError(
            400, "invalid_field", f"The field {part.name!r} is not valid {charset} text."
        ) from None


async def drain(part: BodyPartReader, limit: int, too_much: ApiError) -> None:
    """Skip the rest of a part so that the next one can be read; ``too_much`` past ``limit``.

    Skipped bytes are bounded too, or a chunked body could be endless.
    """
    with multipart_errors():
        while chunk := await _chunk(part):
            limit -= len(chunk)
            if limit < 0:
                raise too_much


@dataclass(slots=True)
class Received:
    path: Path
    size: int
    sha256: str


class SizeExceeded(Exception):
    """More bytes arrived than ``limit``; ``received`` is how many had arrived by then."""

    def __init__(self, limit: int, received: int) -> None:
        super().__init__(limit, received)
        self.limit = limit
        self.received = received


class QuotaExceeded(SizeExceeded):
    """The quota has no room for the next bytes (others may be taking it in parallel)."""


def _write(handle: BinaryIO, digest: hashlib._Hash, data: bytes) -> None:
    handle.write(data)
    digest.update(data)


async def receive_file(
    part: BodyPartReader,
    dest: Path,
    limit: int,
    on_progress: Callable[[int], None] | None = None,
    admit: Callable[[int], bool] | None = None,
) -> Received:
    """Stream ``part`` into ``dest``, hashing as it goes; ``SizeExceeded`` past ``limit``,
    ``QuotaExceeded`` when ``admit(n)`` refuses the next ``n`` bytes.

    ``dest`` is removed on any failure, cancellation included: a write still running in
    the worker thread is waited for first, so it cannot recreate or reopen the file
    after the clean-up. The caller owns ``dest`` on success.
    """
    loop = asyncio.get_running_loop()
    digest = hashlib.sha256()
    size = 0
    pending = bytearray()
    writing: asyncio.Future[None] | None = None
    dest.parent.mkdir(parents=True, exist_ok=True)
    handle = open(dest, "xb")  # noqa: SIM115 - a one-syscall open; closed below
    try:
        with multipart_errors():
            while chunk := await _chunk(part):
                size += len(chunk)
                if size > limit:
                    raise SizeExceeded(limit, size)
                if admit is not None and not admit(len(chunk)):
                    raise QuotaExceeded(limit, size)
                pending += chunk
                if len(pending) >= FLUSH_BYTES:
                    data, pending = bytes(pending), bytearray()
                    writing = loop.run_in_executor(None, _write, handle, digest, data)
                    await asyncio.shield(writing)
                if on_progress is not None:
                    on_progress(size)
        if pending:
            writing = loop.run_in_executor(None, _write, handle, digest, bytes(pending))
            await asyncio.shield(writing)
    except BaseException as exc:
        try:
            if writing is not None and not writing.done():
                await asyncio.wait([writing])
        finally:
            handle.close()
            dest.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, ConnectionError):
            raise storage_error(exc) from exc  # the disk, not the client, failed
        raise
    handle.close()
    return Received(dest, size, digest.hexdigest())


def storage_error(exc: OSError) -> ApiError:
    """A disk problem while receiving: nothing was kept. A full or read-only disk is
    answered as the tus endpoint answers it (``errors.storage_failure``: 507 ``disk_full``
    or 503 ``storage_unavailable``, with ``Retry-After``), so a client retries both alike."""
    log.error("writing an upload failed: %s", exc)
    failure = storage_failure(exc)
    if failure is not None:
        return failure
    return ApiError(500, "storage_error", "The server could not write the file; try later.")
