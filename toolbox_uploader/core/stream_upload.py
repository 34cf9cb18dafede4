"""One upload of unknown length from a pipe (``toolbox-uploader upload -``).

Standard input is copied to a spool file in the cache folder by a reader thread while a
tus upload with ``Upload-Defer-Length`` sends the file as it grows (the tus client waits
for more bytes while ``more_coming()`` is true). The spool is needed because a pipe cannot
be re-read after a cut connection; it is deleted at the end, and holds at most the
category's size limit (``upload - < /dev/zero`` must not fill the disk). Transient failures resume
from the server's offset; this upload is not in the session store, since the bytes of a
pipe are gone once the command ends. ``--bandwidth-limit`` and ``--max-chunk-size`` apply
as to queued files: the same ``upload_job.Connection`` makes the limiter and chunk sizer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from toolbox_uploader import paths
from toolbox_uploader.core.categories import get_category
from toolbox_uploader.core.hashing import HashState
from toolbox_uploader.core.scheduler import Action, decide
from toolbox_uploader.core.toolbox_api import upload_id
from toolbox_uploader.core.transfer_errors import ErrorKind, TransferError
from toolbox_uploader.core.upload_job import Connection, Target

MAX_ATTEMPTS = 8
_PIECE = 1024 * 1024
#: How long a refused upload's DELETE may take before the command gives up on it.
_DELETE_TIMEOUT = 10.0
#: After Ctrl+C, how long the command waits to learn of the upload and delete it.
_INTERRUPTED_GRACE = 3.0


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


def too_large(limit: int) -> TransferError:
    return TransferError(
        ErrorKind.FATAL, f"Standard input is larger than this category's limit of "
        f"{limit} bytes.", code="too_large")


async def stream_upload(source: BinaryIO, *, server_url: str | None, endpoint: str | None,
                        token: str | None, name: str, category: str,
                        limit: int | None = None, bandwidth_limit: int | None = None,
                        max_chunk_size: int | None = None) -> dict[str, object]:
    """Send everything readable from ``source``, at most ``limit`` bytes (default: the
    category's), at most ``bandwidth_limit`` bytes a second, in PATCHes of at most
    ``max_chunk_size`` bytes; returns ``{"url", "upload_url", "size", "sha256"}``.

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
        try:
            tus = connection.tus
            hasher = HashState()
            metadata = {"filename": name, "relativePath": name, "category": category}
            # Shielded: Ctrl+C while the server creates the upload must still learn its
            # address, or the upload would stay there, unfinished, until it expires.
            creating = asyncio.ensure_future(tus.create(length=None, metadata=metadata))
            try:
                url, offset = await asyncio.shield(creating)
                offset = await _send(connection, url, offset, spool_path, spool, hasher,
                                     over)
                if spool.over:
                    raise _TooLarge
            except (TransferError, _TooLarge, asyncio.CancelledError) as error:
                # Refused, too large, or Ctrl+C: a pipe cannot be resumed by anyone.
                interrupted = isinstance(error, asyncio.CancelledError)
                with contextlib.suppress(TransferError, TimeoutError):  # else it expires there
                    async with asyncio.timeout(
                            _INTERRUPTED_GRACE if interrupted else _DELETE_TIMEOUT):
                        url, _offset = await creating  # the creation's own error: none
                        await tus.terminate(url)
                if isinstance(error, _TooLarge):
                    raise too_large(limit) from None
                raise
            digest = hasher.hexdigest()
            if connection.api is not None:
                await connection.api.verify(upload_id(url), sha256=digest, size=offset)
            # "url" is where the file is now, as ``file_url`` is for a file's upload.
            return {"url": connection.file_url(url), "upload_url": url, "size": offset,
                    "sha256": digest}
        finally:
            await connection.aclose()
    finally:
        spool.join(timeout=1)
        spool_path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # only when no other spool is in there
            spool_dir.rmdir()


async def _send(connection: Connection, url: str, offset: int, spool_path: Path,
                spool: _Spool, hasher: HashState, over: asyncio.Event) -> int:
    """PATCH the spool as it grows; transient failures resume from the server's offset."""
    tus = connection.tus
    sizer = connection.chunk_sizer()  # one per upload, kept across retries as a job's is
    attempt = 0
    while True:
        try:
            return await tus.upload_file(
                url, spool_path, offset=offset, length=None, hasher=hasher,
                on_progress=lambda _n: None, more_coming=spool.more_coming, cancel=over,
                limiter=connection.limiter, chunk_sizer=sizer)
        except TransferError as error:
            attempt += 1
            decision = decide(error, attempts=attempt, restarts=1)
            if decision.action is not Action.RETRY or attempt >= MAX_ATTEMPTS:
                raise
            await asyncio.sleep(decision.delay or 0)
            offset = (await tus.head(url)).offset
