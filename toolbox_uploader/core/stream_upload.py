"""One upload of unknown length from a pipe (``toolbox-uploader upload -``).

Standard input is copied to a spool file in the cache folder by a reader thread while a
tus upload with ``Upload-Defer-Length`` sends the file as it grows (the tus client waits
for more bytes while ``more_coming()`` is true). A server without the
creation-defer-length extension gets the whole input with its length once it has ended
(the command says so once on stderr). The spool is needed because a pipe cannot
be re-read after a cut connection; it is deleted at the end, and holds at most the
category's size limit (``upload - < /dev/zero`` must not fill the disk). Transient failures
(of the creation, a PATCH or the HEAD after it) are retried with the engine's backoff and
resume from the server's offset, until ``give_up_after`` seconds pass without a byte going
through, as ``upload --give-up-after`` does for files: a server restarted meanwhile just
carries on. An upload the server no longer has (404/410: deleted there, or expired) is
started over once from the spool's first byte, as a file's would be. This upload is not in
the session store, since the bytes of a pipe are gone once the command ends.
``--bandwidth-limit`` and ``--max-chunk-size`` apply as to queued files: the same
``upload_job.Connection`` makes the limiter and chunk sizer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from toolbox_uploader import paths
from toolbox_uploader.core.categories import get_category
from toolbox_uploader.core.hashing import HashState
from toolbox_uploader.core.scheduler import MAX_TRANSIENT_ATTEMPTS, Action, decide
from toolbox_uploader.core.toolbox_api import upload_id
from toolbox_uploader.core.transfer_errors import ErrorKind, TransferError
from toolbox_uploader.core.upload_job import Connection, Target

_PIECE = 1024 * 1024
#: The code of the error that ends a stream whose server made no progress for too long.
GAVE_UP = "gave_up"
#: How long a refused upload's DELETE may take before the command gives up on it.
_DELETE_TIMEOUT = 10.0
#: After Ctrl+C, how long the command waits to learn of the upload and delete it.
_INTERRUPTED_GRACE = 3.0
#: The wall clock moved this far ahead of the loop's between two looks: the computer slept.
WAKE_JUMP = 2.0
#: After a wake-up, how long a request in flight has to show its connection still carries
#: bytes before it is retried on a new one (as the engine does, ``Connection.woke``).
WAKE_GRACE = 3.0
_CLOCK_LOOK = 0.25  # seconds between looks at the two clocks
_END_LOOK = 0.05  # seconds between looks at whether the input has ended
#: Said once when the server cannot take an upload of unknown length.
WAITING_FOR_END = ("The server does not take uploads of unknown length: waiting for the end "
                   "of the input, then sending it whole.")


class _Spool:
    """Copies ``source`` into ``target`` up to ``limit`` bytes, on a daemon thread.

    ``source`` should be unbuffered (``FileIO``): a thread blocked in a buffered read when
    Ctrl+C ends the interpreter aborts it ("_enter_buffered_busy"). More than ``limit``
    bytes stops the copy (the disk is not filled with what will be refused anyway) and
    sets ``over`` before ``done``, so an uploader that sees the end also sees why."""

    def __init__(self, source: BinaryIO, target: Path, limit: int,
                 on_over: Callable[[], object] = lambda: None) -> None:
        self.done = threading.Event()
        self.over = False
        self._on_over = on_over  # called on this thread: the uploader stops sending at once
        self._source, self._target, self._limit = source, target, limit
        self._thread = threading.Thread(target=self._copy, daemon=True, name="stdin-spool")

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _copy(self) -> None:
        written = 0
        try:
            with open(self._target, "ab", buffering=0) as out:
                while True:
                    data = self._source.read(_PIECE)
                    if not data:
                        break
                    if written + len(data) > self._limit:
                        out.write(data[:self._limit - written])
                        self.over = True
                        self._on_over()
                        break
                    out.write(data)
                    written += len(data)
        finally:
            self.done.set()

    def more_coming(self) -> bool:
        """For the tus client: wait while the copy goes on; never let a cut-off stream
        end as if it were the whole upload."""
        if self.over:
            raise _TooLarge
        return not self.done.is_set()


class _TooLarge(Exception):
    pass


def _to_stderr(message: str) -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):  # stderr closed or None
        print(message, file=sys.stderr, flush=True)


def too_large(limit: int) -> TransferError:
    return TransferError(
        ErrorKind.FATAL, f"Standard input is larger than this category's limit of "
        f"{limit} bytes.", code="too_large")


async def stream_upload(source: BinaryIO, *, server_url: str | None, endpoint: str | None,
                        token: str | None, name: str, category: str,
                        limit: int | None = None, bandwidth_limit: int | None = None,
                        max_chunk_size: int | None = None,
                        give_up_after: float | None = None,
                        notice: Callable[[str], object] = _to_stderr) -> dict[str, object]:
    """Send everything readable from ``source``, at most ``limit`` bytes (default: the
    category's), at most ``bandwidth_limit`` bytes a second, in PATCHes of at most
    ``max_chunk_size`` bytes; returns ``{"url", "upload_url", "size", "sha256",
    "started_over"}`` (``started_over``: the server lost the first upload, sent again).
    Transient failures are retried until ``give_up_after`` seconds pass without progress
    (None or 0: for as long as it takes); then a ``TransferError`` with code ``gave_up``.
    ``notice`` is told (once) when the server makes the upload wait for the end of input.

    An upload that fails for good (refused, too large, interrupted) is deleted on the
    server: a pipe cannot be sent again, so a partial upload there would only take space."""
    limit = get_category(category).max_size if limit is None else limit
    spool_dir = paths.cache_dir() / "stdin"
    spool_dir.mkdir(parents=True, exist_ok=True)
    handle, name_on_disk = tempfile.mkstemp(dir=spool_dir, suffix=".part")
    os.close(handle)
    spool_path = Path(name_on_disk)
    loop = asyncio.get_running_loop()
    over = asyncio.Event()  # the stream passed the limit: stop sending what will be refused
    spool = _Spool(source, spool_path, limit, lambda: loop.call_soon_threadsafe(over.set))
    spool.start()
    try:
        connection = Connection(Target.build(server_url, endpoint, token, None),
                                bandwidth_limit, max_chunk_size=max_chunk_size)
        clock = asyncio.ensure_future(_follow_clock(connection))
        try:
            tus = connection.tus
            hasher = HashState()
            metadata = {"filename": name, "relativePath": name, "category": category}
            patience = Patience(give_up_after)
            try:  # before any creation: a Ctrl+C meanwhile leaves nothing on the server
                length = await _length_to_declare(connection, spool, spool_path, patience,
                                                  notice)
            except _TooLarge:
                raise too_large(limit) from None
            # Shielded: Ctrl+C while the server creates the upload must still learn its
            # address, or the upload would stay there, unfinished, until it expires.
            where = _Where(asyncio.ensure_future(_create(connection, metadata, patience,
                                                         length)), length)
            try:
                where.url, offset = await asyncio.shield(where.creating)
                offset = await _send(connection, where, metadata, offset, spool_path, spool,
                                     hasher, over, patience)
                if spool.over:
                    raise _TooLarge
            except (TransferError, _TooLarge, asyncio.CancelledError) as error:
                # Refused, too large, or Ctrl+C: a pipe cannot be resumed by anyone.
                interrupted = isinstance(error, asyncio.CancelledError)
                # The latest creation's upload is the one to delete (an upload started
                # over replaced one the server had lost); one waiting for its next try
                # has made nothing to delete.
                creating = where.creating
                if not (interrupted and patience.between_tries and not creating.done()):
                    with contextlib.suppress(TransferError, TimeoutError):  # else it expires
                        async with asyncio.timeout(
                                _INTERRUPTED_GRACE if interrupted else _DELETE_TIMEOUT):
                            made, _offset = await creating  # its own error: none made
                            await tus.terminate(made)
                creating.cancel()  # still trying to reach the server: no more tries
                if isinstance(error, _TooLarge):
                    raise too_large(limit) from None
                raise
            digest = hasher.hexdigest()
            url = where.url
            if connection.api is not None:
                await connection.api.verify(upload_id(url), sha256=digest, size=offset)
            # "url" is where the file is now, as ``file_url`` is for a file's upload.
            return {"url": connection.file_url(url), "upload_url": url, "size": offset,
                    "sha256": digest, "started_over": where.started_over}
        finally:
            clock.cancel()
            await connection.aclose()
    finally:
        spool.join(timeout=1)
        spool_path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # only when no other spool is in there
            spool_dir.rmdir()


async def _follow_clock(connection: Connection) -> None:
    """Tell the connection when the computer wakes from sleep, as the engine does for
    queued files: a connection from before may have died without a word (the Wi-Fi or a
    NAT dropped it), and a request on it would wait out its 30 s timeout. The loop's clock
    stands still while the computer sleeps and the wall clock does not: a jump of the one
    against the other is a wake-up (or a clock set ahead, where a retry costs little)."""
    loop = asyncio.get_running_loop()
    offset = time.time() - loop.time()
    while True:
        await asyncio.sleep(_CLOCK_LOOK)
        now = time.time() - loop.time()
        jump, offset = now - offset, now
        if jump >= WAKE_JUMP:
            connection.woke(WAKE_GRACE)


class Patience:
    """How long a stream waits for a server that fails: retries with the engine's backoff
    (``scheduler.decide``) until ``give_up_after`` seconds have passed since the first
    failure after the last progress; the last try comes at that moment. A pipe that is
    merely quiet (a paused recording) does not use up this time. The engine's cap on tries
    against a busy server (``MAX_TRANSIENT_ATTEMPTS``) does not apply: ``give_up_after``
    is the only limit, and 0 means none, as ``--give-up-after`` says."""

    def __init__(self, give_up_after: float | None) -> None:
        self.give_up_after = give_up_after or None
        self.between_tries = False  # sleeping until the next try: no request in flight
        self._failing_since: float | None = None
        self._failures = 0

    def moved(self) -> None:
        self._failing_since = None
        self._failures = 0

    async def wait_after(self, error: TransferError) -> None:
        """Sleep before the next try, or raise (``error`` itself when it is not one to
        retry, a ``gave_up`` error when the time is up)."""
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        self._failures += 1
        # Counted no further than the cap: past it ``decide`` would fail a busy server.
        attempts = min(self._failures, MAX_TRANSIENT_ATTEMPTS - 1)
        decision = decide(error, attempts=attempts, restarts=1)
        if decision.action is not Action.RETRY:
            raise error
        delay = decision.delay or 0.0
        if self.give_up_after is not None:
            left = self._failing_since + self.give_up_after - now
            if left <= 0:  # the message is why it waited; the command says for how long
                raise TransferError(ErrorKind.FATAL, error.message, status=error.status,
                                    code=GAVE_UP) from error
            delay = min(delay, left)
        self.between_tries = True
        try:
            await asyncio.sleep(delay)
        finally:
            self.between_tries = False


async def _length_to_declare(connection: Connection, spool: _Spool, spool_path: Path,
                             patience: Patience, notice: Callable[[str], object]) -> int | None:
    """None (sent as it comes, ``Upload-Defer-Length``) when the server takes that; else
    the input's whole length, once it has ended. The input is spooled to disk anyway, so
    a server without creation-defer-length can still take it, as a file of known size."""
    while True:
        try:
            info = await connection.tus.server_info()
            break
        except TransferError as error:
            await patience.wait_after(error)
    patience.moved()
    if info.supports("creation-defer-length"):
        return None
    notice(WAITING_FOR_END)
    while not spool.done.is_set():  # polled: a thread waiting on it would outlive Ctrl+C
        await asyncio.sleep(_END_LOOK)
    if spool.over:
        raise _TooLarge
    return spool_path.stat().st_size


async def _create(connection: Connection, metadata: dict[str, str],
                  patience: Patience, length: int | None) -> tuple[str, int]:
    while True:
        try:
            created = await connection.tus.create(length=length, metadata=metadata)
        except TransferError as error:
            await patience.wait_after(error)
            continue
        patience.moved()
        return created


class _Where:
    """The upload the stream goes to now: a second one once the server lost the first.

    ``creating`` is the latest creation, shielded from Ctrl+C like the first: a Ctrl+C
    while the server creates the second upload must still learn its address to delete it.
    """

    def __init__(self, creating: asyncio.Future[tuple[str, int]], length: int | None) -> None:
        self.url = ""
        self.length = length  # None: deferred, declared with the last PATCH
        self.started_over = False
        self.creating = creating


async def _send(connection: Connection, where: _Where, metadata: dict[str, str], offset: int,
                spool_path: Path, spool: _Spool, hasher: HashState, over: asyncio.Event,
                patience: Patience) -> int:
    """PATCH the spool as it grows; transient failures resume from the server's offset,
    and an upload gone from the server starts over once (the hash follows: the client
    rolls it back to offset 0)."""
    tus = connection.tus
    sizer = connection.chunk_sizer()  # one per upload, kept across retries as a job's is
    while True:
        try:
            return await tus.upload_file(
                where.url, spool_path, offset=offset, length=where.length, hasher=hasher,
                on_progress=lambda _n: patience.moved(), more_coming=spool.more_coming,
                cancel=over, limiter=connection.limiter, chunk_sizer=sizer)
        except TransferError as error:
            if _gone(error) and not where.started_over:
                offset = await _start_over(connection, where, metadata, patience)
                continue
            await patience.wait_after(_said_gone(error))
        while True:  # where to carry on from; the server may still be away
            try:
                offset = (await tus.head(where.url)).offset
                break
            except TransferError as error:
                if _gone(error) and not where.started_over:
                    offset = await _start_over(connection, where, metadata, patience)
                    break
                await patience.wait_after(_said_gone(error))


async def _start_over(connection: Connection, where: _Where, metadata: dict[str, str],
                      patience: Patience) -> int:
    where.started_over = True
    where.creating = asyncio.ensure_future(_create(connection, metadata, patience,
                                                   where.length))
    where.url, offset = await asyncio.shield(where.creating)
    return offset


def _gone(error: TransferError) -> bool:
    """The server no longer has the upload (deleted there, or expired)."""
    return error.kind is ErrorKind.RESTART and error.status in (404, 410)


def _said_gone(error: TransferError) -> TransferError:
    """``error``, or for an upload gone a second time one that says so: a bare "There is
    no such upload." from the server does not tell a scripter that the stream was cut."""
    if not _gone(error):
        return error
    said = TransferError(
        ErrorKind.FATAL, "The upload was removed from the server again while it was being "
        f"sent ({error.message.strip().rstrip('.')}), after it had been started over once: "
        "run the command again with the whole input.",
        status=error.status, code=error.code)
    said.__cause__ = error
    return said
