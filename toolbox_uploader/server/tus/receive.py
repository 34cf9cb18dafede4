"""Stream one request body into an upload's part file.

The body is read from ``request.content`` in whatever pieces arrive and gathered into
buffers of about 1 MiB. Each buffer goes to two single-thread workers of this upload:
one writes it with ``os.pwritev`` (no copy), the other feeds the hashers (``hashlib``
drops the GIL for large updates); one thread each keeps the hashing in order. The loop
keeps reading while up to ``MAX_IN_FLIGHT`` bytes are being written, so network, disk
and hashing overlap and the event loop never blocks on bytes; memory stays bounded.

A body that is small once gathered (at most ``INLINE_BYTES``, nothing else in flight:
a whole 100 KB file in one creation-with-upload) is written and hashed right on the
event loop instead: a page-cache write and a hash of that size take tens of
microseconds, less than the two thread hops, and the worker threads are only started
when a body is big enough to need them.

The committed offset moves every ``COMMIT_BYTES`` or ``COMMIT_SECONDS`` and at the end,
so a body cut off midway keeps what arrived. With ``Upload-Checksum`` nothing is
committed until the whole body has verified; otherwise it is cut back to where it began.
A body that runs past the upload's declared length keeps none of its bytes: the client
and the server disagree about the file, so its first ``length`` bytes may be the wrong
ones, and storing them as the finished file would be worse than asking for them again.

The offset reaches the upload's length only at the end of a request that goes on to
complete the upload: a commit on the way, or one made while the request is cancelled,
holds the last byte back. Otherwise a HEAD could report a finished upload that was
never stored (and never will be: tus clients stop once the offset is the length).

There is no fsync per PATCH: it halved the throughput of a 1 GiB PATCH here. Committed
bytes are in the kernel, so they survive the server process dying; after a power cut
``store.reconcile`` moves the offset back to what the part file really holds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from toolbox_uploader.server import keys
from toolbox_uploader.server.body_pace import BodyPace
from toolbox_uploader.server.errors import ApiError, storage_failure
from toolbox_uploader.server.expect_continue import send_continue
from toolbox_uploader.server.tus.checksum import ChunkChecksum
from toolbox_uploader.server.tus.state import STATE, RunningHash
from toolbox_uploader.server.tus.store import Upload, UploadStore

log = logging.getLogger(__name__)

FLUSH_BYTES = 1024 * 1024
MAX_IN_FLIGHT = 4 * 1024 * 1024  # handed to the workers, not yet known to be written
INLINE_BYTES = 256 * 1024  # written and hashed on the loop when nothing is in flight
MAX_PIECES = 512  # stays below IOV_MAX (1024) for one pwritev
COMMIT_BYTES = 8 * 1024 * 1024
COMMIT_SECONDS = 1.0
DEFAULT_IDLE_TIMEOUT = 60.0


def checksum_mismatch(checksum: ChunkChecksum) -> ApiError:
    return ApiError(
        460, "checksum_mismatch",
        f"The {checksum.algorithm} checksum of the data does not match Upload-Checksum;"
        " nothing was kept.",
    )


@dataclass(slots=True)
class Outcome:
    """How a body ended: fully read, cut off by the client, or over the size limit."""

    received_all: bool
    too_large: bool = False
    over_quota: bool = False  # too large for what the quota has left (with ``too_large``)
    too_slow: bool = False  # a drip (``body_pace``): cut, what arrived is kept
    shutting_down: bool = False
    cut_reason: str = ""


async def next_piece(request: web.Request, seconds: float, outcome: Outcome) -> bytes | None:
    """The next piece of the body as aiohttp received it, ``b""`` at its end, or ``None``
    when it was cut off (why is set on ``outcome``). Raises ``TimeoutError`` after
    ``seconds`` without data.

    ``readchunk`` hands over aiohttp's buffers as they are; ``readany`` joins them, one
    more copy of every byte. An empty body is aiohttp's one process-wide
    ``EMPTY_PAYLOAD``, whose ``readchunk`` answers ``(b"", True)`` without ever waiting
    once any request has read its end: ``at_eof`` ends the body there, or this loop
    would spin forever and freeze the event loop.
    """
    content = request.content
    await send_continue(request)  # the head passed every check: invite a waiting body
    while True:
        try:
            async with asyncio.timeout(seconds):
                piece, boundary = await content.readchunk()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            # aiohttp's graceful shutdown cancels the request body, not the task.
            outcome.shutting_down = True
            outcome.cut_reason = "the server is shutting down"
            return None
        except TimeoutError:
            raise
        except Exception as exc:  # the client went away or sent a broken body
            outcome.cut_reason = str(exc) or type(exc).__name__
            return None
        if piece or not boundary or content.at_eof():  # else: the end of one HTTP chunk
            return piece


async def brings_data(request: web.Request) -> bool:
    """Does the body hold a byte? A chunked one says so only by sending it, and must get
    the same answer as one with ``Content-Length``, not a success that drops its data."""
    if request.content_length is not None or not request.body_exists:
        return bool(request.content_length)
    try:
        piece = await next_piece(request, idle_timeout(request.app), Outcome(received_all=False))
    except TimeoutError:
        return True  # neither data nor an end: not the empty body a success would confirm
    return piece != b""


class _Writer:
    """Writes buffers at known positions and feeds hashers, in two ordered worker threads.

    Writing and hashing run concurrently on the same immutable pieces, so a buffer costs
    max(write, hash) instead of their sum. The threads start with the first big buffer;
    ``run_inline`` does a small one on the caller's thread.
    """

    def __init__(self, fd: int, running: RunningHash, checksum: ChunkChecksum | None) -> None:
        self.fd = fd
        self.running = running
        self.checksum = checksum
        self.broken = False  # a job failed: the hasher may have seen unwritten bytes
        self._writes: ThreadPoolExecutor | None = None
        self._hashes: ThreadPoolExecutor | None = None

    def write(self, pieces: list[bytes], position: int) -> int:
        total = sum(len(p) for p in pieces)
        done = os.pwritev(self.fd, pieces, position)
        if done < total:  # short write: finish the rest the slow way
            rest = memoryview(b"".join(pieces))[done:]
            while rest:
                n = os.pwrite(self.fd, rest, position + done)
                done += n
                rest = rest[n:]
        return total

    def hash(self, pieces: list[bytes]) -> None:
        for piece in pieces:
            self.running.hasher.update(piece)
            if self.checksum is not None:
                self.checksum.hasher.update(piece)
        self.running.offset += sum(len(p) for p in pieces)

    def run_inline(self, pieces: list[bytes], position: int) -> asyncio.Future[int]:
        """Write, then hash, right now; the result is a finished future like ``submit``'s."""
        result: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        try:
            done = self.write(pieces, position)
            self.hash(pieces)
        except Exception as exc:
            self.broken = True
            result.set_exception(exc)
        else:
            result.set_result(done)
        return result

    def submit(self, pieces: list[bytes], position: int) -> asyncio.Future[int]:
        loop = asyncio.get_running_loop()
        if self._writes is None or self._hashes is None:
            self._writes = ThreadPoolExecutor(1, thread_name_prefix="tus-write")
            self._hashes = ThreadPoolExecutor(1, thread_name_prefix="tus-hash")
        writing = loop.run_in_executor(self._writes, self.write, pieces, position)
        hashing = loop.run_in_executor(self._hashes, self.hash, pieces)

        async def both() -> int:
            results = await asyncio.gather(writing, hashing, return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    self.broken = True
                    raise result
            return int(results[0])  # type: ignore[arg-type]

        return asyncio.ensure_future(both())

    def close(self) -> None:
        """Let the worker threads end (called when no job is pending)."""
        for pool in (self._writes, self._hashes):
            if pool is not None:
                pool.shutdown(wait=False)


def idle_timeout(app: web.Application) -> float:
    """How long a request body may send nothing before it is taken as cut off."""
    return float(app[keys.CONFIG].options.get("tus_idle_timeout", DEFAULT_IDLE_TIMEOUT))


async def _settle(future: Awaitable[int]) -> tuple[int | None, BaseException | None, bool]:
    """Wait for a worker job even if this task is being cancelled.

    Returns (bytes written or None, job error, whether a cancellation arrived).
    """
    cancelled = False
    task = asyncio.ensure_future(future)
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True  # keep waiting: the thread is writing into our file
        except Exception:  # read from the task below
            pass
    try:
        return task.result(), None, cancelled
    except asyncio.CancelledError as exc:
        return None, exc, True
    except Exception as exc:
        return None, exc, cancelled


async def receive_body(
    request: web.Request,
    store: UploadStore,
    upload: Upload,
    path: Path,
    running: RunningHash,
    limit: int,
    checksum: ChunkChecksum | None,
    admit: Callable[[int], bool] | None = None,
) -> Outcome:
    """Append the body at ``upload.offset``; commit what verified and is on disk.

    ``limit`` is the largest offset the upload may reach; ``admit(n)``, when given, must
    also agree to each piece (the quota, shared with requests running in parallel, for
    an upload without a declared length). Raises ``ApiError`` for a
    disk failure or a checksum mismatch (460, offset unchanged). Cancellation (server
    shutdown) commits what is on disk first and then propagates.
    """
    app = request.app
    progress = app[keys.PROGRESS]
    idle = idle_timeout(app)
    start = upload.offset
    saved_hasher = running.hasher.copy()  # cheap; a cut back to ``start`` restores it
    last = upload.length - 1 if upload.length else None  # held back until completion
    fd = os.open(path, os.O_WRONLY)
    writer = _Writer(fd, running, checksum)
    written = queued = start  # on disk / handed to the workers
    pieces: list[bytes] = []
    buffered = 0
    in_flight: deque[asyncio.Future[int]] = deque()
    last_commit = time.monotonic()
    outcome = Outcome(received_all=False)
    failure: BaseException | None = None
    cancelled = False

    async def settle_oldest() -> None:
        nonlocal written, failure, cancelled
        done, error, was_cancelled = await _settle(in_flight.popleft())
        cancelled = cancelled or was_cancelled
        if error is not None:
            failure = failure or error
        elif done is not None and failure is None:  # no gaps: later bytes wait for earlier
            written += done
            progress.publish(upload.id, written, upload.length, "uploading")

    async def settle_all() -> None:
        while in_flight:
            await settle_oldest()

    def maybe_commit(force: bool = False) -> None:
        nonlocal last_commit
        target = written if last is None else min(written, last)
        if checksum is not None or target <= upload.offset:
            return
        now = time.monotonic()
        if (force or target - upload.offset >= COMMIT_BYTES
                or now - last_commit >= COMMIT_SECONDS):
            store.commit_offset(upload, target)
            last_commit = now

    async def flush() -> bool:
        """Hand the gathered pieces to the workers; False when writing must stop."""
        nonlocal queued, pieces, buffered
        if pieces and failure is None and not cancelled:
            small = not in_flight and buffered <= INLINE_BYTES
            job = writer.run_inline if small else writer.submit
            in_flight.append(job(pieces, queued))
            queued += buffered
            pieces, buffered = [], 0
        while in_flight and (queued - written > MAX_IN_FLIGHT or in_flight[0].done()):
            await settle_oldest()
        maybe_commit()
        return failure is None and not cancelled

    pace = BodyPace(idle)
    locks = app[STATE]
    try:
        idle_since = time.monotonic()
        locks.receiving(upload.id)
        while True:
            try:
                chunk = await next_piece(request, COMMIT_SECONDS, outcome)
            except TimeoutError:
                # The client is slow or stalled: make what arrived durable and visible.
                if time.monotonic() - idle_since >= idle:
                    outcome.cut_reason = f"no data for {idle:g} s"
                    break
                if pace.too_slow():
                    outcome.too_slow, outcome.cut_reason = True, pace.describe()
                    break
                if not await flush():
                    break
                await settle_all()
                maybe_commit(force=True)
                if failure is not None or cancelled:
                    break
                continue
            if chunk is None:
                break
            idle_since = time.monotonic()
            locks.receiving(upload.id)
            if not chunk:
                outcome.received_all = True
                break
            if queued + buffered + len(chunk) > limit:
                outcome.too_large = True
                break
            if admit is not None and not admit(len(chunk)):
                outcome.too_large = outcome.over_quota = True
                break
            pace.add(len(chunk))
            if pace.too_slow():
                outcome.too_slow, outcome.cut_reason = True, pace.describe()
                break
            pieces.append(chunk)
            buffered += len(chunk)
            if (buffered >= FLUSH_BYTES or len(pieces) >= MAX_PIECES) and not await flush():
                break
        if pieces and failure is None and not cancelled:
            await flush()
    except asyncio.CancelledError:
        cancelled = True
    finally:
        locks.received(upload.id)  # no more waiting for bytes: never stale from here
        await settle_all()
        writer.close()
        if writer.broken:
            running.offset = -1  # rebuilt from the part file by the next request
        verified = (
            checksum is not None and outcome.received_all and failure is None
            and not cancelled and not outcome.too_large and checksum.matches()
        )
        keep = written if checksum is None else (written if verified else start)
        if outcome.too_large and upload.length is not None:
            keep = start  # past the declared length: see the module's docstring
        if cancelled and last is not None:
            keep = min(keep, max(start, last))  # nobody is left to complete it
        if keep != written or failure is not None:
            # Bytes after ``keep`` are unverified or of unknown state: cut them off.
            try:
                os.ftruncate(fd, keep)
            except OSError:
                log.exception("upload %s: could not truncate the part file", upload.id)
        if keep == start and written != start:
            running.hasher, running.offset = saved_hasher, start
        elif keep != written:
            running.offset = -1  # rebuilt from the part file by the next request
        os.close(fd)
        if keep != upload.offset:
            store.commit_offset(upload, keep)
        progress.publish(upload.id, keep, upload.length, "uploading")
    if cancelled:
        raise asyncio.CancelledError
    if failure is not None:
        answer = storage_failure(failure)
        if answer is not None:  # a full or read-only disk: 507/503, the client retries
            log.error("upload %s: write failed: %s", upload.id, failure)
            raise answer
        log.error("upload %s: write failed: %s", upload.id, failure)
        raise ApiError(500, "write_failed", "The server could not write the upload.")
    if checksum is not None and outcome.received_all and not outcome.too_large and not verified:
        raise checksum_mismatch(checksum)
    return outcome
