"""A tus 1.0 client that streams request bodies straight from the file.

Why not tuspy: it reads each chunk whole into memory and reports progress only per chunk.
Here every request body is an async generator that reads the file in pieces of at most
1 MiB (smaller on slow links), so memory stays flat whatever the file or chunk size, and
progress is reported about 8 times a second as bytes leave the machine (``_Delivery``).
Requests and responses are httpx's types, sent on one keep-alive ``HttpSession``
(aiohttp's connections, see ``http_transport``) shared by every upload to the server.

Integrity: the whole-file sha256 (``HashState``) is fed by the same reads that send the
bytes. When the server advertises the checksum extension, every PATCH carries an
``Upload-Checksum``; since that is a request *header*, the chunk's digest must be known
before its body is sent. The chunk is therefore read twice: once in a worker thread to
digest it, and again, from the page cache, while it is sent — the send's reads feed a copy
of the whole-file hash, adopted only once the server confirms the chunk. That keeps memory
at two 1 MiB pieces instead of a chunk-sized buffer (up to 50 MiB per upload), and the
digest pass for chunk N+1 runs while chunk N is on the wire, so the two hashes run in two
threads at once. The cost is CPU, not memory: two sha256 passes per byte on the client (and
one more on the server). On a 2-core machine where client and server share the CPU that
roughly halves loopback throughput (see bench/upload_throughput.py); on a real network the
link, not the CPU, is the limit. ``use_checksums=False`` is there for measurements.

Recovery inside one ``upload_file`` call: a cut connection, a 409 offset race or a 423
lock ask the server for its offset (HEAD) and continue from there, re-reading at most one
chunk to bring the hash back; a 460 re-sends the chunk (twice at most, then FATAL). Other
failures are raised as ``TransferError`` for the engine to schedule a retry.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from toolbox_uploader.core.hashing import HashState
from toolbox_uploader.core.http_transport import HttpSession, SendMeter
from toolbox_uploader.core.rate_limit import RateLimiter
from toolbox_uploader.core.sizes import human_size, sizes_apart
from toolbox_uploader.core.source_files import open_fd
from toolbox_uploader.core.strategy import ChunkSizer
from toolbox_uploader.core.transfer_errors import (
    ErrorKind,
    TransferError,
    backoff_delay,
    classify_exception,
    classify_response,
)

TUS_VERSION = "1.0.0"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
PIECE_MAX = 1024 * 1024  # largest read per body piece
PIECE_MIN = 16 * 1024
PIECE_START = 256 * 1024
UPDATES_PER_SECOND = 8  # pieces are sized for this many progress updates a second
MAX_CHECKSUM_RETRIES = 2  # a chunk answered 460 is re-sent this often, then FATAL
MAX_RECOVERIES = 4  # consecutive HEAD-and-continue rounds without progress
GROWTH_POLL = 0.1  # seconds between looks at a growing source

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class ServerInfo:
    """What ``OPTIONS`` told us about a tus server."""

    version: str
    extensions: frozenset[str]
    max_size: int | None
    checksum_algorithms: tuple[str, ...]

    def supports(self, extension: str) -> bool:
        return extension in self.extensions

    @property
    def checksum_algorithm(self) -> str | None:
        """sha256, else sha1, spelled as the server lists it, if it checks checksums at all.

        The server's own spelling ("SHA256", "sha-256") goes back in ``Upload-Checksum``: the
        spec lets a server answer 400 to a name it does not list, which would fail the upload
        at its first PATCH.
        """
        if "checksum" not in self.extensions:
            return None
        for wanted in ("sha256", "sha1"):
            for name in self.checksum_algorithms:
                if _hash_name(name) == wanted:
                    return name
        return None


@dataclass(frozen=True)
class UploadStatus:
    """What ``HEAD`` told us about one upload; the server's offset is the truth."""

    offset: int
    length: int | None
    metadata: dict[str, str]


def _hash_name(algorithm: str) -> str:
    """hashlib's name for a tus algorithm name ("SHA-256" → "sha256")."""
    return algorithm.lower().replace("-", "")


def encode_metadata(metadata: Mapping[str, str]) -> str:
    parts = []
    for key, value in metadata.items():
        if not key or " " in key or "," in key:
            raise ValueError(f"invalid tus metadata key {key!r}")
        encoded = base64.b64encode(value.encode("utf-8")).decode("ascii")
        parts.append(f"{key} {encoded}" if value else key)
    return ",".join(parts)


def decode_metadata(header: str | None) -> dict[str, str]:
    result: dict[str, str] = {}
    if not header:
        return result
    for item in header.split(","):
        fields = item.strip().split(" ")
        if not fields[0]:
            continue
        value = ""
        if len(fields) > 1:
            try:
                value = base64.b64decode(fields[1], validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                value = ""
        result[fields[0]] = value
    return result


def endpoint_folder(endpoint: str) -> str:
    """``endpoint`` with its path ending in a slash, so that a relative ``Location``
    resolves below it; a query string stays as given (``/files?key=v`` → ``/files/?key=v``,
    never ``/files?key=v/``, which would change the key a site checks)."""
    parts = urlsplit(endpoint)
    if parts.path.endswith("/"):
        return endpoint
    return urlunsplit(parts._replace(path=parts.path + "/"))


def _int_header(response: httpx.Response, name: str) -> int | None:
    """A non-negative integer header, or None when absent or not one.

    ASCII digits only: ``str.isdigit`` also takes "²", which ``int`` refuses."""
    value = response.headers.get(name)
    if value is None:
        return None
    value = value.strip()
    if not (value.isascii() and value.isdigit()):
        return None
    return int(value)


def _created(response: httpx.Response) -> bool:
    """A creation's answer: 201 by the spec, but any 2xx, as tus-js-client and tuspy take it.

    @tus/server lets a site's onUploadFinish hook answer a creation that brought the whole
    file with its own status (200 and a body); without a Location it still fails, clearly."""
    return 200 <= response.status_code < 300


def _csv_header(response: httpx.Response, name: str) -> tuple[str, ...]:
    value = response.headers.get(name, "")
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _chunk_digest(fd: int, start: int, size: int, algorithm: str, state: HashState | None) -> bytes:
    """The digest of bytes [start, start+size).

    With ``state`` (a fresh file hash, for the first chunk under sha256) the chunk's digest
    *is* the file's prefix digest, so one hash serves both.
    """
    chunk_hash = None if state is not None else hashlib.new(_hash_name(algorithm))
    position, end = start, start + size
    while position < end:
        data = os.pread(fd, min(PIECE_MAX, end - position), position)
        if not data:
            raise TransferError(ErrorKind.RESTART, "The file became shorter while uploading.")
        if chunk_hash is not None:
            chunk_hash.update(data)
        else:
            assert state is not None
            state.update(data)
        position += len(data)
    if chunk_hash is None:
        assert state is not None
        return bytes.fromhex(state.prefix_digest())
    return chunk_hash.digest()


def _available(fd: int, offset: int, max_size: int | None) -> int:
    """Bytes of a growing source past ``offset``; one past the server's limit is refused."""
    size = os.fstat(fd).st_size
    if max_size is not None and size > max_size:
        raise TransferError(
            ErrorKind.FATAL,
            f"The upload is larger than this server accepts (at most {human_size(max_size)}).",
            status=413,
        )
    return size - offset


def _read_piece(fd: int, position: int, size: int, hasher: HashState | None) -> bytes:
    data = os.pread(fd, size, position)
    if len(data) < size:
        raise TransferError(ErrorKind.RESTART, "The file became shorter while uploading.")
    if hasher is not None:
        hasher.update(data)
    return data


class _Delivery:
    """Progress of one request body: bytes that left the machine, about 8 times a second.

    The body reports each piece as it is handed to the connection; ``SendMeter`` says how
    much of that still sits in local buffers, and a timer reads it again while the request
    is in flight, so a slow link shows steady progress through the whole request instead of
    a jump at the start and a wait at the end. Reported offsets only grow.
    """

    def __init__(self, on_progress: ProgressCallback, start: int) -> None:
        self.meter = SendMeter()
        self._on_progress = on_progress
        self._handed = self._shown = start
        self._timer: asyncio.TimerHandle | None = None

    def handing(self, position: int) -> None:
        """The body is about to give the connection everything up to ``position``.

        Counted before the piece is written, so that while it drains from asyncio's buffer
        it is both handed and waiting; ``_report`` after the write shows what left."""
        self._handed = position

    def handed(self) -> None:
        self._report()

    def start(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(1 / UPDATES_PER_SECOND, self._tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self) -> None:
        self._report()
        self.start()

    def confirmed(self, offset: int) -> None:
        """The server's answer: it holds ``offset`` bytes, also when that is less than left
        (a server that took part of a body): what it lacks is sent again."""
        if offset < self._shown:
            self._shown = offset
            self._on_progress(offset)
        else:
            self._show(offset)

    def _report(self) -> None:
        self._show(self._handed - self.meter.waiting())

    def _show(self, position: int) -> None:
        if position > self._shown:
            self._shown = position
            self._on_progress(position)


def _delivery(on_progress: ProgressCallback | None, start: int) -> _Delivery | None:
    return _Delivery(on_progress, start) if on_progress is not None else None


async def _memory_body(content: bytes, hasher: HashState | None,
                       delivery: _Delivery | None) -> AsyncIterator[bytes]:
    """``content`` as one piece; hashed and reported like a piece read from the file."""
    if hasher is not None:
        hasher.update(content)
    if delivery is not None:
        delivery.handing(len(content))
    yield content
    if delivery is not None:
        delivery.handed()


@dataclass
class _Prepared:
    """One PATCH ready to go: its range and its checksum header."""

    offset: int
    size: int
    declare: int | None
    checksum: str | None
    state: HashState | None = None  # the file hash after this chunk, if hashing made it


async def _prepare(
    fd: int,
    offset: int,
    size: int,
    declare: int | None,
    algorithm: str | None,
    hashing: bool,
) -> _Prepared:
    """Digest the chunk when the server checks checksums (in a worker thread).

    Only the chunk's digest is computed here; the file hash is fed by the body's reads, so
    that this pass (for the next chunk) and those reads (for this one) hash in parallel.
    """
    if algorithm is None or size <= 0:
        return _Prepared(offset, size, declare, None)
    state = (HashState() if hashing and offset == 0 and _hash_name(algorithm) == "sha256"
             else None)
    digest = await asyncio.to_thread(_chunk_digest, fd, offset, size, algorithm, state)
    checksum = f"{algorithm} {base64.b64encode(digest).decode()}"
    return _Prepared(offset, size, declare, checksum, state)


async def _take(ahead: asyncio.Task[_Prepared] | None, offset: int) -> _Prepared | None:
    """The chunk hashed ahead, if it starts where the server now is."""
    if ahead is None:
        return None
    prepared = await ahead
    return prepared if prepared.offset == offset else None


class _Cancelled(Exception):
    """Raised inside a body generator to abort the request when the item is paused."""


def _chunk_size(sizer: ChunkSizer, limiter: RateLimiter | None) -> int:
    """The sizer's choice, but never more than its target time at the bandwidth limit: a
    chunk cut by a pause or a restart is sent again whole (a server that checks each chunk's
    checksum cannot keep part of one), so a slow, limited link sends short chunks from the
    first one instead of waiting for the sizer to measure it."""
    size = sizer.next_size()
    rate = limiter.rate if limiter is not None else None
    if rate:
        size = min(size, max(sizer.minimum, int(rate * sizer.target_seconds)))
    return size


class TusClient:
    """One tus endpoint, one keep-alive connection pool."""

    def __init__(
        self,
        endpoint: str,
        *,
        token: str | None = None,
        client: HttpSession | None = None,
        timeout: float = 30.0,
        use_checksums: bool = True,
    ) -> None:
        """``use_checksums=False`` skips ``Upload-Checksum`` even where the server offers it
        (for measurements; the end-to-end sha256 check still applies)."""
        self.use_checksums = use_checksums
        self.endpoint = endpoint_folder(endpoint)
        self._headers = {"Tus-Resumable": TUS_VERSION}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._own_client = client is None
        self._client = client or HttpSession(httpx.Timeout(timeout))
        self._info: ServerInfo | None = None
        self._info_lock = asyncio.Lock()

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()

    async def __aenter__(self) -> TusClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- plain requests ---------------------------------------------------------------

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """A body-less request; transport failures come back classified."""
        try:
            merged = {**self._headers, **(headers or {})}
            return await self._client.request(method, url, headers=merged)
        except httpx.HTTPError as exc:
            raise classify_exception(exc) from exc

    async def server_info(self) -> ServerInfo:
        """OPTIONS on the endpoint, asked once per client."""
        async with self._info_lock:
            if self._info is None:
                response = await self._request("OPTIONS", self.endpoint)
                # A web server that is not tus: no such page, no OPTIONS, or an OPTIONS
                # answer without the Tus-Version every tus server must send.
                if response.status_code in (404, 405, 501) or (
                        response.status_code in (200, 204)
                        and not _csv_header(response, "Tus-Version")):
                    raise TransferError(
                        ErrorKind.FATAL, f"No tus server answers at {self.endpoint}.",
                        status=response.status_code,
                    )
                moved = response.headers.get("Location")
                if response.status_code in (301, 302, 303, 307, 308) and moved:
                    # Not followed: a tus body cannot be sent twice, and every later request
                    # would meet the same redirect. The admin needs the address to use.
                    raise TransferError(
                        ErrorKind.FATAL,
                        f"The tus server at {self.endpoint} moved to "
                        f"{urljoin(self.endpoint, moved)}; use that address instead.",
                        status=response.status_code,
                    )
                if response.status_code not in (200, 204):
                    raise classify_response(response)
                versions = _csv_header(response, "Tus-Version")
                if versions and TUS_VERSION not in versions:
                    raise TransferError(
                        ErrorKind.FATAL,
                        f"The server speaks tus {', '.join(versions)}, not {TUS_VERSION}.",
                        status=response.status_code,
                    )
                self._info = ServerInfo(
                    version=TUS_VERSION,
                    extensions=frozenset(_csv_header(response, "Tus-Extension")),
                    max_size=_int_header(response, "Tus-Max-Size"),
                    checksum_algorithms=_csv_header(response, "Tus-Checksum-Algorithm"),
                )
            return self._info

    async def head(self, url: str) -> UploadStatus:
        """The server's offset, length and metadata; 404/410 → TransferError(RESTART)."""
        response = await self._request("HEAD", url, {"Cache-Control": "no-store"})
        if response.status_code not in (200, 204):
            raise classify_response(response)
        offset = _int_header(response, "Upload-Offset")
        if offset is None:
            raise TransferError(
                ErrorKind.TRANSIENT, "The server's answer lacked a valid Upload-Offset.",
                status=response.status_code,
            )
        length = _int_header(response, "Upload-Length")
        if length is not None and offset > length:
            # Resuming from there would read past the file or skip bytes: start over.
            raise TransferError(
                ErrorKind.RESTART,
                f"The server reports an Upload-Offset ({offset}) past the upload's length "
                f"({length}); the file is sent again.",
                status=response.status_code,
            )
        return UploadStatus(
            offset=offset,
            length=length,
            metadata=decode_metadata(response.headers.get("Upload-Metadata")),
        )

    async def terminate(self, url: str) -> None:
        """DELETE the upload; one that is already gone counts as terminated."""
        response = await self._request("DELETE", url)
        if response.status_code in (200, 204, 404, 410):
            return
        raise classify_response(response)

    # -- creation ---------------------------------------------------------------------

    async def create(
        self,
        *,
        length: int | None,
        metadata: Mapping[str, str],
        partial: bool = False,
        source: Path | None = None,
        upload_bytes: int = 0,
        hasher: HashState | None = None,
        on_progress: ProgressCallback | None = None,
        content: bytes | None = None,
        limiter: RateLimiter | None = None,
        cancel: asyncio.Event | None = None,
        on_answer: Callable[[httpx.Response], None] | None = None,
    ) -> tuple[str, int]:
        """POST a new upload, with its first ``upload_bytes`` when the server allows.

        ``content``, when given, is those bytes already in memory (a small file read when
        it was validated); ``source`` is still needed to finish by PATCH if the server
        takes less. ``limiter`` paces the body like a PATCH's. ``cancel`` (a pause, a
        cancel) abandons a request with a body at once, with a ``stopped`` TransferError:
        without an answer there is no upload URL to come back to. ``on_answer`` sees the
        server's 201 (its extension headers). Returns the absolute upload URL and the offset
        the server holds afterwards.
        """
        info = await self.server_info()
        if length is not None and info.max_size is not None and length > info.max_size:
            shown, limit = sizes_apart(length, info.max_size)
            raise TransferError(
                ErrorKind.FATAL,
                f"The file ({shown}) is larger than this server accepts (at most {limit}).",
                status=413,
            )
        if length is None and not info.supports("creation-defer-length"):
            raise TransferError(
                ErrorKind.FATAL, "The server cannot take uploads of unknown length."
            )
        headers = dict(self._headers)
        if metadata:
            headers["Upload-Metadata"] = encode_metadata(metadata)
        if length is None:
            headers["Upload-Defer-Length"] = "1"
        else:
            headers["Upload-Length"] = str(length)
        if partial:
            headers["Upload-Concat"] = "partial"
        if length is not None:
            upload_bytes = min(upload_bytes, length)
        send_body = source is not None and upload_bytes > 0 and info.supports(
            "creation-with-upload"
        )
        if hasher is not None and hasher.offset:
            assert source is not None, "a hasher with a prefix needs its source"
            hasher.rollback(0, source)
        if not send_body:
            headers["Content-Length"] = "0"
            response = await self._send("POST", self.endpoint, headers, None)
            if not _created(response):
                raise classify_response(response)
            return self._location(response), 0

        assert source is not None
        if hasher is not None:
            hasher.checkpoint()
        headers["Content-Type"] = OFFSET_CONTENT_TYPE
        headers["Content-Length"] = str(upload_bytes)
        paced = limiter is not None and limiter.rate is not None
        delivery = _delivery(on_progress, 0)
        try:
            if content is not None and len(content) == upload_bytes and not paced:
                response = await self._send_unless_cancelled(
                    "POST", self.endpoint, headers, _memory_body(content, hasher, delivery),
                    cancel, delivery)
            else:
                fd = open_fd(source)
                try:
                    body = self._body(fd, 0, upload_bytes, hasher, delivery, limiter, cancel)
                    try:
                        response = await self._send_unless_cancelled(
                            "POST", self.endpoint, headers, body, cancel, delivery)
                    finally:
                        await body.aclose()  # its read-ahead must end before ``fd`` is closed
                finally:
                    os.close(fd)
        except _Cancelled:
            raise TransferError(ErrorKind.TRANSIENT, "Stopped before the server answered.",
                                code="stopped") from None
        if not _created(response):
            raise classify_response(response)
        if on_answer is not None:
            on_answer(response)
        url = self._location(response)
        offset = _int_header(response, "Upload-Offset")
        if offset is None:
            offset = (await self.head(url)).offset
        if offset > upload_bytes:  # bytes never sent: see ``upload_file``
            raise TransferError(
                ErrorKind.RESTART,
                f"The server reports more bytes ({offset}) than were sent ({upload_bytes}); "
                "the file is sent again.",
                status=response.status_code,
            )
        if hasher is not None:
            hasher.rollback(offset, source)
            hasher.checkpoint()
        if delivery is not None:
            delivery.confirmed(offset)  # what the server holds, as after a PATCH
        return url, offset

    async def concatenate(self, partial_urls: Sequence[str], metadata: Mapping[str, str]) -> str:
        """The final upload made of finished partial uploads (concatenation extension)."""
        paths = []
        for url in partial_urls:
            parts = urlsplit(url)
            paths.append(parts.path if parts.netloc == urlsplit(self.endpoint).netloc else url)
        headers = {**self._headers, "Upload-Concat": "final;" + " ".join(paths)}
        if metadata:
            headers["Upload-Metadata"] = encode_metadata(metadata)
        headers["Content-Length"] = "0"
        response = await self._send("POST", self.endpoint, headers, None)
        if not _created(response):
            raise classify_response(response)
        return self._location(response)

    def _location(self, response: httpx.Response) -> str:
        location = response.headers.get("Location")
        if not location:
            raise TransferError(
                ErrorKind.FATAL, "The server created an upload but gave no Location.",
                status=response.status_code,
            )
        return urljoin(self.endpoint, location)

    # -- sending bytes ----------------------------------------------------------------

    async def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: AsyncIterator[bytes] | None,
        delivery: _Delivery | None = None,
    ) -> httpx.Response:
        """Send one request and read its (small) response; failures come back classified."""
        request = self._client.build_request(
            method, url, headers=headers, content=body if body is not None else b"",
            meter=delivery.meter if delivery is not None else None,
        )
        if delivery is not None:
            delivery.start()
        try:
            response = await self._client.send(request)
        except _Cancelled:
            raise
        except httpx.HTTPError as exc:
            raise classify_exception(exc) from exc
        except OSError as exc:
            raise classify_exception(exc) from exc
        finally:
            if delivery is not None:
                delivery.stop()
        return response

    async def _body(
        self,
        fd: int,
        start: int,
        size: int,
        hasher: HashState | None,
        delivery: _Delivery | None,
        limiter: RateLimiter | None,
        cancel: asyncio.Event | None,
    ) -> AsyncIterator[bytes]:
        """Bytes [start, start+size) in pieces, read one piece ahead in a worker thread.

        Each piece is sized for ~8 reads a second at the rate measured so far, within
        [16 KiB, 1 MiB]; each piece handed to the socket is told to ``delivery``.
        """
        position, end = start, start + size
        piece = PIECE_START
        if limiter is not None:
            piece = limiter.piece_size(piece)

        def schedule(at: int, count: int) -> asyncio.Task[bytes] | None:
            if count <= 0:
                return None
            return asyncio.ensure_future(asyncio.to_thread(_read_piece, fd, at, count, hasher))

        pending = schedule(position, min(piece, end - position))
        try:
            while pending is not None:
                # Shielded: a cancelled request (a pause, an early answer) must not cancel
                # the read's task, or ``finally`` would not wait for its thread, and the
                # caller would close ``fd`` under a read still running.
                data = await asyncio.shield(pending)
                pending = None
                if cancel is not None and cancel.is_set():
                    raise _Cancelled()
                if limiter is not None:
                    await limiter.acquire(len(data))
                after = position + len(data)
                # Read ahead while this piece goes out. ``hasher`` sees pieces in order
                # because only one read is ever in flight.
                next_count = min(piece, end - after)
                pending = schedule(after, next_count)
                sent_at = time.monotonic()
                if delivery is not None:
                    delivery.handing(after)
                yield data
                elapsed = time.monotonic() - sent_at
                position = after
                if delivery is not None:
                    delivery.handed()
                piece = self._next_piece(piece, len(data), elapsed, limiter)
        finally:
            if pending is not None:
                with contextlib.suppress(BaseException):
                    await asyncio.shield(pending)

    @staticmethod
    def _next_piece(piece: int, sent: int, elapsed: float, limiter: RateLimiter | None) -> int:
        if elapsed > 0:
            wanted = int(sent / elapsed / UPDATES_PER_SECOND)
            piece = max(PIECE_MIN, min(PIECE_MAX, wanted, piece * 4))
        else:
            piece = min(PIECE_MAX, piece * 4)
        if limiter is not None:
            piece = limiter.piece_size(piece)
        return piece

    async def upload_file(
        self,
        url: str,
        source: Path,
        *,
        offset: int,
        length: int | None,
        hasher: HashState | None,
        on_progress: ProgressCallback,
        chunk_sizer: ChunkSizer | None = None,
        cancel: asyncio.Event | None = None,
        limiter: RateLimiter | None = None,
        more_coming: Callable[[], bool] | None = None,
    ) -> int:
        """PATCH ``source`` from ``offset`` (the server's) until ``length``; returns the offset.

        ``length=None`` is a deferred-length upload: the source is sent until EOF and the
        last PATCH declares ``Upload-Length``. While ``more_coming()`` returns True, EOF only
        means "wait for the file to grow" (a recording still being written).

        When ``cancel`` is set the PATCH in flight is aborted and the server's offset is
        returned (smaller than the length). ``hasher`` only ever advances to offsets the
        server confirmed; one that is elsewhere (after a failed call) is brought to
        ``offset``, re-reading at most one chunk.
        """
        info = await self.server_info()
        algorithm = info.checksum_algorithm if self.use_checksums else None
        sizer = chunk_sizer or ChunkSizer()
        if hasher is not None and hasher.offset != offset:
            await asyncio.to_thread(hasher.rollback, offset, source)
        if hasher is not None:
            hasher.checkpoint()
        declared = length
        checksum_failures = 0
        recoveries = 0
        ahead: asyncio.Task[_Prepared] | None = None
        shown = offset

        def report(position: int) -> None:
            nonlocal shown
            shown = position
            on_progress(position)

        def settle(confirmed: int) -> int:
            """A cut request's bytes that left are not all on the server (a cut chunk is
            sent again whole): progress goes back to what the server holds, so that a
            pause shows what a resume starts from, not more."""
            if confirmed != shown:
                report(confirmed)
            return confirmed

        fd = open_fd(source)
        try:
            while True:
                if cancel is not None and cancel.is_set():
                    return offset
                if declared is not None and offset >= declared:
                    return offset
                prepared = await _take(ahead, offset)
                ahead = None
                if prepared is None:
                    size, declare = await self._plan_chunk(
                        fd, offset, declared, _chunk_size(sizer, limiter), more_coming, cancel,
                        info.max_size,
                    )
                    if size is None:  # cancelled while waiting for a growing file
                        return offset
                    prepared = await _prepare(
                        fd, offset, size, declare, algorithm, hasher is not None
                    )
                end = prepared.offset + prepared.size
                if algorithm is not None and declared is not None and end < declared:
                    # Hash the next chunk while this one is on the wire (checksum servers).
                    following = min(_chunk_size(sizer, limiter), declared - end)
                    ahead = asyncio.ensure_future(
                        _prepare(fd, end, following, None, algorithm, hasher is not None)
                    )
                # The file hash as it will be once the server confirms this chunk; the
                # body's reads feed it unless the checksum pass already did.
                after = prepared.state
                if after is None and hasher is not None:
                    after = hasher.copy()
                feed = after if prepared.state is None else None
                started = time.monotonic()
                try:
                    response = await self._patch(
                        url, fd, prepared, feed, report, limiter, cancel
                    )
                except _Cancelled:
                    offset = await self._resync(url, source, hasher, offset, quiet=True)
                    return settle(offset)
                except TransferError as error:
                    if not error.retryable or recoveries >= MAX_RECOVERIES:
                        raise
                    recoveries += 1
                    settle(offset)
                    await asyncio.sleep(backoff_delay(recoveries, base=0.1, cap=1.0))
                    offset = settle(await self._resync(url, source, hasher, offset))
                    continue
                status = response.status_code
                # 204 is the spec's answer; any 2xx counts, as for tus-js-client and tuspy:
                # @tus/server lets a site's onUploadFinish answer the last PATCH with 200
                # and a body, and the upload is complete on the server all the same.
                if 200 <= status < 300:
                    new_offset = _int_header(response, "Upload-Offset")
                    if new_offset is None:
                        new_offset = (await self.head(url)).offset
                    if new_offset > end:
                        # Bytes that were never sent: continuing from there would leave a
                        # hole of unknown content in the stored file, reported as done.
                        raise TransferError(
                            ErrorKind.RESTART,
                            f"The server reports more bytes ({new_offset}) than were sent "
                            f"({end}); the file is sent again.",
                            status=status,
                        )
                    if new_offset > offset:
                        recoveries = 0
                        checksum_failures = 0
                    elif prepared.size > 0:  # accepted, yet nothing stored: do not spin
                        recoveries += 1
                        if recoveries > MAX_RECOVERIES:
                            raise TransferError(
                                ErrorKind.TRANSIENT,
                                "The server keeps accepting data without storing it.",
                                status=status,
                            )
                    sizer.record(new_offset - offset, time.monotonic() - started)
                    if prepared.declare is not None:
                        declared = prepared.declare
                    if hasher is not None:
                        if new_offset == end and after is not None:
                            hasher.adopt(after)
                        else:
                            await asyncio.to_thread(hasher.rollback, new_offset, source)
                            hasher.checkpoint()
                    offset = new_offset
                    report(offset)
                    continue
                if status == 460:
                    checksum_failures += 1
                    if checksum_failures > MAX_CHECKSUM_RETRIES:
                        error = classify_response(response)
                        error.message = (
                            "The server kept receiving damaged data "
                            f"(checksum mismatch {checksum_failures} times). {error.message}"
                        )
                        raise error
                    offset = settle(await self._resync(url, source, hasher, offset))
                    continue
                error = classify_response(response)
                if status in (409, 423) and recoveries < MAX_RECOVERIES:
                    recoveries += 1
                    settle(offset)
                    await asyncio.sleep(backoff_delay(recoveries, base=0.1, cap=1.0))
                    offset = settle(await self._resync(url, source, hasher, offset))
                    continue
                raise error
        except BaseException:
            # Progress and the hash back at the server's offset as last known: what the
            # caller saves, and what the next call (after the engine's HEAD) starts from,
            # re-reading at most one chunk.
            with contextlib.suppress(Exception):
                settle(offset)
            if hasher is not None and hasher.offset != offset:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(hasher.rollback, offset, source)
            raise
        finally:
            if ahead is not None:  # its thread reads ``fd``: let it finish before closing
                with contextlib.suppress(BaseException):
                    await ahead
            os.close(fd)

    async def _plan_chunk(
        self,
        fd: int,
        offset: int,
        declared: int | None,
        chunk: int,
        more_coming: Callable[[], bool] | None,
        cancel: asyncio.Event | None,
        max_size: int | None = None,
    ) -> tuple[int | None, int | None]:
        """(bytes to send, Upload-Length to declare with them or None).

        Of unknown length, the source is held to the server's ``Tus-Max-Size`` here: past
        it the server would refuse the upload anyway, after taking everything up to there.
        """
        if declared is not None:
            return min(chunk, declared - offset), None
        if max_size is not None:
            chunk = min(chunk, max(0, max_size - offset))
        while True:
            available = _available(fd, offset, max_size)
            if available >= chunk > 0:
                return chunk, None
            if more_coming is None or not more_coming():
                # Size again: the writer may have appended between the look and the flag.
                available = _available(fd, offset, max_size)
                if available > chunk:
                    return chunk, None
                return max(0, available), offset + max(0, available)
            if cancel is not None and cancel.is_set():
                return None, None
            await asyncio.sleep(GROWTH_POLL)

    async def _patch(
        self,
        url: str,
        fd: int,
        prepared: _Prepared,
        feed: HashState | None,
        on_progress: ProgressCallback,
        limiter: RateLimiter | None,
        cancel: asyncio.Event | None,
    ) -> httpx.Response:
        headers = {
            **self._headers,
            "Upload-Offset": str(prepared.offset),
            "Content-Type": OFFSET_CONTENT_TYPE,
            "Content-Length": str(prepared.size),
        }
        if prepared.declare is not None:
            headers["Upload-Length"] = str(prepared.declare)
        if prepared.checksum is not None:
            headers["Upload-Checksum"] = prepared.checksum
        delivery = _Delivery(on_progress, prepared.offset)
        body = self._body(fd, prepared.offset, prepared.size, feed, delivery, limiter, cancel)
        try:
            return await self._send_unless_cancelled("PATCH", url, headers, body, cancel,
                                                     delivery)
        finally:
            await body.aclose()  # its read-ahead must finish before ``fd`` can be closed

    async def _send_unless_cancelled(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: AsyncIterator[bytes],
        cancel: asyncio.Event | None,
        delivery: _Delivery | None,
    ) -> httpx.Response:
        """The request, abandoned at once when ``cancel`` is set.

        The body generator notices a pause between pieces, but a stalled server can keep
        one socket write waiting until the timeout; a pause must not wait for that.
        """
        if cancel is None:
            return await self._send(method, url, headers, body, delivery)
        sending = asyncio.ensure_future(self._send(method, url, headers, body, delivery))
        waiting = asyncio.ensure_future(cancel.wait())
        try:
            await asyncio.wait({sending, waiting}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiting.cancel()
            if not sending.done():
                sending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sending
        if sending.cancelled():
            raise _Cancelled()
        return sending.result()

    async def _resync(
        self,
        url: str,
        source: Path,
        hasher: HashState | None,
        fallback: int,
        *,
        quiet: bool = False,
    ) -> int:
        """Ask the server for its offset and bring the hash there."""
        try:
            offset = (await self.head(url)).offset
        except TransferError:
            if not quiet:
                raise
            offset = fallback
        if hasher is not None and hasher.offset != offset:
            await asyncio.to_thread(hasher.rollback, offset, source)
        return offset
