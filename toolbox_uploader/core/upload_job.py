"""One attempt at sending one queued file: resume or create, send, verify.

The job talks to the transfer layer (``TusClient``, ``ToolboxApi``) and reports through
callbacks; it never changes item states itself — the engine does that from the outcome
or the ``TransferError`` raised. That keeps every state change in one place.

Resuming is safe against edited files: the store keeps a fingerprint (sha256 of the
first N bytes that were read for sending); before continuing an upload the same prefix
is hashed again, and any difference (or a different size or mtime) starts the file over
instead of splicing new bytes onto old ones.

A small file goes whole with its creation (one request), unless the link is so slow that
the request would take more than ``SLOW_REQUEST_SECONDS``: its answer, which carries the
upload's address, would come only at the end, so a closed laptop would send it all again.
On such a link it is created first and sent by PATCH, which resumes.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from toolbox_uploader.core import credentials, pipeline
from toolbox_uploader.core.hashing import HashState
from toolbox_uploader.core.http_transport import HttpSession
from toolbox_uploader.core.rate_limit import RateLimiter
from toolbox_uploader.core.session_store import (
    ItemRecord,
    rebase_upload_url,
    relative_upload_path,
)
from toolbox_uploader.core.strategy import ChunkSizer, Strategy, choose_strategy
from toolbox_uploader.core.toolbox_api import ToolboxApi, file_link, file_page, upload_id
from toolbox_uploader.core.transfer_errors import ErrorKind, TransferError
from toolbox_uploader.core.tus_client import TusClient, endpoint_folder
from toolbox_uploader.core.validation.names import clean_relative_path

log = logging.getLogger(__name__)

TUS_PATH = "/api/v1/storage/tus/"
WATCH_INTERVAL = 0.5
MIN_CHUNK = 1024 * 1024  # how often the source is checked for edits during an upload
#: After a stop, how long a request still waiting for its answer may take before it is
#: dropped; a body being sent is cut at its next piece, well within this.
STOP_GRACE = 1.0
#: A small file that would take longer than this in one request is created first.
SLOW_REQUEST_SECONDS = 5.0
#: Bodies smaller than this say more about the server's per-request work than the link.
_RATE_SAMPLE_MIN = 256 * 1024
#: With no rate measured yet, a small file at least this big is created first: 5 s at
#: 200 kB/s, and one extra request on a fast link, for the first files only.
_UNMEASURED_WHOLE = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Target:
    """Where uploads go. ``server_key`` names the server in the store across runs."""

    server_key: str
    endpoint: str
    server_url: str | None
    token: str | None

    @classmethod
    def build(cls, server_url: str | None, tus_endpoint: str | None, token: str | None,
              server_key: str | None) -> Target:
        problem = None if token is None else credentials.token_problem(token)
        if problem is not None:
            # Sent as none: the server asks for a sign-in, where the teacher can fix it.
            log.warning("the token cannot be sent (%s); going on without it", problem)
            token = None
        if tus_endpoint:
            endpoint = endpoint_folder(tus_endpoint)  # a query string stays a query
            return cls(server_key or endpoint, endpoint, None, token)
        if server_url:
            base = server_url.rstrip("/")
            return cls(server_key or base, base + TUS_PATH, base, token)
        return cls(server_key or "", "", None, token)

    @property
    def configured(self) -> bool:
        return bool(self.endpoint)

    @property
    def account(self) -> str | None:
        """The account uploads go to (``credentials.account_mark``)."""
        return credentials.account_mark(self.server_key, self.token)


class Connection:
    """The keep-alive HTTP client, tus client and bandwidth limiter shared by all jobs."""

    def __init__(self, target: Target, bandwidth_limit: int | None, *,
                 max_chunk_size: int | None = None) -> None:
        self.target = target
        self.max_chunk_size = max_chunk_size
        self.http = HttpSession()
        self.tus = TusClient(target.endpoint or "http://invalid.invalid/", token=target.token,
                             client=self.http)
        # Always there (unlimited: no rate), so a limit set later paces requests in flight.
        self.limiter = RateLimiter(bandwidth_limit or None)
        self.api = (ToolboxApi(target.server_url, target.token, client=self.http.rest_client())
                    if target.server_url else None)
        self._tus_available: bool | None = None
        self._rate: float | None = None  # one request's body, bytes a second, smoothed

    def note_rate(self, rate: float | None) -> None:
        """A request body went at ``rate`` bytes a second: feeds ``request_rate``."""
        if rate:
            self._rate = rate if self._rate is None else (self._rate + rate) / 2

    def request_rate(self) -> float | None:
        """What one request's body goes at, as measured here and capped by the limit."""
        rates = [rate for rate in (self._rate, self.limiter.rate) if rate]
        return min(rates) if rates else None

    def in_one_request(self, size: int) -> bool:
        """Whether a new upload of ``size`` bytes goes whole with its creation.

        Before anything was measured only files under ``_UNMEASURED_WHOLE`` do: the first
        files of a session on a slow link would otherwise go in one long request each, and
        a pause would lose them whole (a PATCH also gives the first measurement). A
        bandwidth limit caps the speed but does not measure it: the link may be slower."""
        if choose_strategy(size) is not Strategy.DIRECT:
            return False
        if self._rate is None and size >= _UNMEASURED_WHOLE:
            return False
        rate = self.request_rate()
        return rate is None or size <= rate * SLOW_REQUEST_SECONDS

    def woke(self, grace: float) -> None:
        """The computer woke up: connections from before are not trusted (``HttpSession``)."""
        self.http.woke(grace)

    def set_bandwidth(self, limit: int | None) -> None:
        """A new limit for every upload, including the requests now in flight."""
        self.limiter.set_rate(limit or None)

    async def aclose(self) -> None:
        await self.tus.aclose()
        await self.http.aclose()

    async def terminate(self, url: str) -> None:
        await self.tus.terminate(url)

    def chunk_sizer(self) -> ChunkSizer:
        if self.max_chunk_size is None:
            return ChunkSizer()
        cap = max(MIN_CHUNK, self.max_chunk_size)
        return ChunkSizer(initial=MIN_CHUNK, minimum=MIN_CHUNK, maximum=cap)

    async def uses_tus(self) -> bool:
        """A toolbox server without tus gets small files by ``POST /api/v1/files/upload``."""
        if self.api is None:
            return True
        if self._tus_available is None:
            self._tus_available = await self.api.tus_available()
        return self._tus_available

    def file_url(self, upload_url: str) -> str | None:
        return file_link(self.target.server_url, upload_url)


class FingerprintedHash(HashState):
    """``HashState`` whose last checkpoint can be read while a worker thread feeds it.

    The checkpoint (offset, digest) pair is only replaced between requests, so it is a
    consistent fingerprint of the prefix even mid-chunk, unlike the live state.
    """

    def fingerprint(self) -> tuple[int, str] | None:
        checkpoint, offset = self._checkpoint, self._checkpoint_offset
        if offset <= 0:
            return None
        return offset, checkpoint.copy().hexdigest()


@dataclass(frozen=True, slots=True)
class Uploaded:
    sha256: str
    file_url: str | None
    upload_url: str | None = None
    upload_path: str | None = None


@dataclass(frozen=True, slots=True)
class AlreadyUploaded:
    sha256: str
    file_url: str | None
    message: str


@dataclass(frozen=True, slots=True)
class SourceChanged:
    message: str
    #: Which change (a key of ``_CHANGE_MESSAGES``).
    change: str = ""

    @property
    def missing(self) -> bool:
        """The file is not there (a drive unplugged, a folder renamed): nothing says the
        part already sent is wrong, so it is kept for when the file is back."""
        return self.change == "missing"


@dataclass(frozen=True, slots=True)
class Stopped:
    why: str  # "pause", "cancel" or "stop"


Outcome = Uploaded | AlreadyUploaded | SourceChanged | Stopped

_CHANGE_MESSAGES = {
    "missing": "The file was moved or deleted.",
    "size": "The file changed size since it was added; it is sent again from the start.",
    "mtime": "The file was edited since it was added; it is sent again from the start.",
    "content": "The file's content changed since part of it was sent; "
               "it is sent again from the start.",
    "length": "The server holds an upload of a different length; it is sent again.",
    "optimized": "The optimized copy is gone; the picture is prepared again.",
    "during": "The file was edited while it was being sent; it is sent again from the start.",
}


def _while_sending(change: str) -> SourceChanged:
    """A file gone is not "edited": saying so would send the teacher looking for an edit."""
    return _changed("missing" if change == "missing" else "during")


def _changed(change: str) -> SourceChanged:
    return SourceChanged(_CHANGE_MESSAGES.get(change, change), change)


_STOP_RANK = {"auth": 0, "switch": 0, "pause": 1, "cancel": 1, "stop": 2}


class UploadJob:
    def __init__(
        self,
        record: ItemRecord,
        connection: Connection,
        *,
        on_progress: Callable[[int], None],
        on_url: Callable[[str, str | None], object],
        on_offset: Callable[[int], object],
        find_twin: Callable[[str], ItemRecord | None],
        has_twin_candidates: Callable[[int], bool],
        body: bytes | None = None,
    ) -> None:
        self.record = record
        #: The file's bytes as validated and hashed, for a small file sent from memory.
        self.body = body
        self.connection = connection
        self._on_progress = on_progress
        self._on_url = on_url
        self._on_offset = on_offset
        self._find_twin = find_twin
        self._has_twin_candidates = has_twin_candidates
        self.cancel_event = asyncio.Event()
        self.stop_reason: str | None = None
        self._task: asyncio.Task[object] | None = None  # the one running ``run``
        self._drop: asyncio.TimerHandle | None = None
        self._dropped = False
        #: Every byte is on the server and the job is checking it: a stop no longer drops
        #: the job (the state table has no way back from verifying but done or failed).
        self._checking = False
        #: A command given while the request winds down (resume after a pause, retry after
        #: a cancel), run by the engine once this job has ended.
        self.then: Callable[[], object] | None = None
        self.upload_url: str | None = None
        #: The whole body of a one-request upload went out and no answer came back (yet):
        #: the server may have stored the file, so a retry asks it first.
        self.may_have_arrived = False
        #: The server said an earlier try's file is not there: that question is closed.
        self.asked_server = False
        self.hasher: FingerprintedHash | None = None
        self._edited: str | None = None
        #: A toolbox server found the file it just received among the account's files
        #: (``Toolbox-Duplicate-Of``) and kept that one: "already on the server".
        self._duplicate_of: str | None = None

    def stop(self, why: str) -> None:
        """Pause/cancel/stop: the request in flight is cut at the next piece.

        A person's latest pause or cancel wins over their earlier one and over the engine's
        own stops (sign-in needed: "auth", another server chosen: "switch"); the engine
        shutting down ("stop") wins over everything."""
        rank = _STOP_RANK[why]
        if self.stop_reason is None or rank >= _STOP_RANK[self.stop_reason]:
            self.stop_reason = why
            self.then = None
        self._cut()

    def _cut(self) -> None:
        """End the request in flight: a body at its next piece; one that waits for an answer
        is dropped after ``STOP_GRACE`` (see ``run``)."""
        self.cancel_event.set()
        if self._task is not None and self._drop is None and not self._checking:
            self._drop = asyncio.get_running_loop().call_later(STOP_GRACE, self._drop_now)

    def _drop_now(self) -> None:
        if self._task is not None and not self._task.done():
            self._dropped = True
            self._task.cancel()

    def fingerprint(self) -> tuple[int, str] | None:
        return self.hasher.fingerprint() if self.hasher is not None else None

    async def _blocking(self, fn: Callable[..., object], *args: object) -> object:
        """Hashing for resumes: on the loop's own executor, never queued behind validation."""
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    async def run(self, on_verifying: Callable[[], object]) -> Outcome:
        """The upload, until done or stopped; a stop ends it within ``STOP_GRACE``.

        A body being sent is cut at its next piece, but a request that waits for an answer
        (the first OPTIONS, a HEAD, the check at the end) would keep a pause, a cancel or
        Ctrl+C waiting for the server's timeout when the server has gone silent: after the
        grace the running task is cancelled and the cancellation taken back here, as
        ``asyncio.timeout`` does (no extra task on the way of every upload)."""
        task = self._task = asyncio.current_task()
        try:
            return await self._run(on_verifying)
        except asyncio.CancelledError:
            if not self._dropped or task is None:
                raise
            self._dropped = False
            if task.uncancel() > 0:
                raise  # cancelled by someone else too (the engine shutting down)
            if self._edited:
                return _while_sending(self._edited)
            return Stopped(self.stop_reason or "stop")
        finally:
            if self._dropped and task is not None:  # our cancel was swallowed on the way
                task.uncancel()
            self._task = None
            if self._drop is not None:
                self._drop.cancel()

    async def _run(self, on_verifying: Callable[[], object]) -> Outcome:
        record = self.record
        target = self.connection.target
        if not target.configured:
            raise TransferError(ErrorKind.FATAL, "No server is set; choose one in the settings.")
        changed = pipeline.source_changed(record)  # two stat() calls: not worth a thread hop
        if changed:
            return _changed(str(changed))
        source = Path(record.upload_source)
        size = record.upload_size
        if size is None:
            size = source.stat().st_size
        tus = self.connection.tus

        # A big file whose hash is unknown: hash it first only if the server may have it.
        # (Small files were hashed and compared when they were validated.)
        sha256 = record.sha256
        if sha256 is None and not record.upload_path and self._has_twin_candidates(size):
            sha256 = str(await self._blocking(pipeline.sha256_file, source))
            twin = self._find_twin(sha256)
            if twin is not None:
                return AlreadyUploaded(sha256, twin.file_url,
                                       f"{record.relative_path} is already on the server; "
                                       "not sent again.")

        if sha256 is not None and record.interrupted and not (
                record.upload_path or record.upload_url):
            arrived = await self._arrived_earlier(sha256, size)
            if arrived is not None:
                return arrived

        if not await self.connection.uses_tus():
            return await self._direct(source, size, sha256, on_verifying)

        url: str | None = None
        offset = 0
        if record.upload_path or record.upload_url:
            url = (rebase_upload_url(target.endpoint, record.upload_path)
                   if record.upload_path else record.upload_url)
            assert url is not None
            self.upload_url = url
            try:
                status = await tus.head(url)  # the server's offset is the truth
            except TransferError as error:
                finished = await self._finished_earlier(error, url, source, size)
                if finished is None:
                    raise
                return finished
            # A server that claims more than the file has (its length left out) cannot be
            # resumed from: reading on from there would fail on the file's end.
            if (status.length is not None and status.length != size) or status.offset > size:
                return _changed("length")
            offset = status.offset
            self._on_offset(offset)
            self.hasher = await self._resume_hash(source, offset)
            if self.hasher is None:
                return _changed("content")
        else:
            self.hasher = FingerprintedHash()

        # Small files go in one request; the check before verifying covers them.
        whole = url is None and self.connection.in_one_request(size)
        watcher = (asyncio.create_task(self._watch_source())
                   if choose_strategy(size) is not Strategy.DIRECT or not whole else None)
        try:
            if url is None:
                metadata = self._metadata(sha256)
                first = size if whole else 0
                started = asyncio.get_running_loop().time()
                url, offset = await tus.create(
                    length=size, metadata=metadata, source=source if first else None,
                    upload_bytes=first, hasher=self.hasher if first else None,
                    on_progress=self._creation_progress(first), content=self._body(size),
                    limiter=self.connection.limiter, cancel=self.cancel_event,
                    on_answer=self._note_duplicate)
                self.upload_url = url
                self.may_have_arrived = False
                took = asyncio.get_running_loop().time() - started
                if offset >= _RATE_SAMPLE_MIN and took > 0:
                    self.connection.note_rate(offset / took)
                whole = whole and offset >= size
                if offset < size:  # bytes still to send: the URL must survive a crash now
                    self._on_url(url, relative_upload_path(target.endpoint, url))
                if first and offset < size:
                    # The server did not take the body with the creation: finish by PATCH.
                    self.hasher = await self._resume_hash(source, offset) or FingerprintedHash()
            if offset < size:
                sizer = self.connection.chunk_sizer()
                start = offset
                offset = await tus.upload_file(
                    url, source, offset=offset, length=size, hasher=self.hasher,
                    on_progress=self._on_progress, chunk_sizer=sizer,
                    cancel=self.cancel_event, limiter=self.connection.limiter)
                if offset - start >= _RATE_SAMPLE_MIN:  # a resumed tail says little
                    self.connection.note_rate(sizer.rate)
        finally:
            if watcher is not None:
                watcher.cancel()
        if self._edited:
            if offset >= size and self._edited != "missing":
                await self._drop_stored(url)  # it completed on the server as it was
            return _while_sending(self._edited)
        if self.stop_reason is not None and offset < size:
            return Stopped(self.stop_reason)
        if offset < size:
            raise TransferError(ErrorKind.TRANSIENT, "The upload stopped before the end.")
        # The whole file went through: check it end to end. A file sent whole with its
        # sha256 was checked by the server as it completed; there is nothing left to verify.
        sent_as_checked = sha256 is not None and whole
        self._checking = True
        if self._drop is not None:
            self._drop.cancel()
        if not sent_as_checked:
            on_verifying()
        # A file sent whole from the bytes that were checked, which the server checked
        # against their SHA-256, is stored as it was meant to be even if it is gone here now.
        changed = pipeline.source_changed(record)
        if changed and str(changed) != "missing":
            await self._drop_stored(url)
            return _while_sending(str(changed))
        if changed and not (sent_as_checked or self.hasher.offset == size):
            return _while_sending("missing")  # nothing says the stored file is wrong: kept
        digest = self.hasher.hexdigest() if self.hasher.offset == size else None
        if digest is None:  # resumed after a complete upload: hash what was sent
            digest = str(await self._blocking(pipeline.sha256_file, source))
        if sha256 is not None and digest != sha256:
            await self._drop_stored(url)
            return _changed("during")
        api = self.connection.api
        if sha256 is None and api is not None:  # the server could not check an unsent hash
            await api.verify(upload_id(url), sha256=digest, size=size)
        if self._duplicate_of is not None:
            return AlreadyUploaded(digest, self.connection.file_url(url),
                                   f"{record.relative_path} is already on the server; "
                                   "not stored again.")
        return Uploaded(digest, self.connection.file_url(url), url,
                        relative_upload_path(target.endpoint, url))

    async def _drop_stored(self, url: str) -> None:
        """The upload completed, but the source is not what was sent (edited at the very end,
        or while a small file went from memory): a toolbox server keeps a completed upload
        as a file, which a tus DELETE does not remove, and the file is about to be sent
        again; without this the old (or mixed) version would stay beside the new one. An
        upload stored as a second name of an existing file is left alone: deleting it would
        delete that file."""
        api = self.connection.api
        if api is None or self._duplicate_of is not None:
            return
        file_id = upload_id(url)
        try:
            # Only a file stored under this upload's own id: the answer names the file an
            # id stands for, and a second name (Toolbox-Duplicate-Of, also reported on a
            # PATCH) would lead to the other upload's file.
            if (await api.get_file(file_id)).get("id") != file_id:
                return
            await api.delete_file(file_id)
        except TransferError as error:
            log.info("could not delete the outdated copy %s: %s", url, error.message)

    def _note_duplicate(self, response: httpx.Response) -> None:
        self._duplicate_of = response.headers.get("Toolbox-Duplicate-Of") or None

    async def _finished_earlier(self, error: TransferError, url: str, source: Path,
                                size: int) -> Uploaded | None:
        """After a crash between the last byte and ``done``, a toolbox server has already
        turned the upload into a file (HEAD says gone): recognise it instead of re-sending."""
        api = self.connection.api
        if error.kind is not ErrorKind.RESTART or api is None:
            return None
        try:
            stored = await api.get_file(upload_id(url))
        except TransferError:
            return None
        if stored.get("size") != size:
            return None
        digest = str(await self._blocking(pipeline.sha256_file, source))
        if str(stored.get("sha256", "")).lower() != digest:
            return None
        self._on_progress(size)
        return Uploaded(digest, self.connection.file_url(url))

    def still_unsure(self, record: ItemRecord) -> bool:
        """After this try failed or stopped: may the server hold the file without our knowing
        (``record.interrupted`` to keep)? Yes if this try's whole body went out unanswered,
        or an earlier one's did and this try did not get to ask."""
        return self.may_have_arrived or (record.interrupted and not self.asked_server)

    def _body(self, size: int) -> bytes | None:
        """The validated bytes, if they are what this try must send."""
        body, self.body = self.body, None  # one try only: a retry reads the file again
        if body is None or len(body) != size or self.record.optimized_path:
            return None
        return body

    def _creation_progress(self, body: int) -> Callable[[int], object]:
        def progress(sent: int) -> None:
            if body and sent >= body:
                self.may_have_arrived = True
            self._on_progress(sent)

        return progress

    async def _arrived_earlier(self, sha256: str, size: int) -> Uploaded | None:
        """A small file goes in one request, and its URL is only known from the answer: if
        an earlier try was cut off (crash, lost connection) after the server stored the
        file, only the server can say so. Asked of a toolbox server, and only after a try
        that did not finish, so a normal upload costs no extra request."""
        api = self.connection.api
        if api is None or choose_strategy(size) is not Strategy.DIRECT:
            return None
        try:
            stored = await api.find_file(sha256=sha256, relative_path=self.record.relative_path)
        except TransferError as error:
            if error.kind in (ErrorKind.TRANSIENT, ErrorKind.OFFLINE, ErrorKind.AUTH):
                raise  # the upload itself would meet the same
            self.asked_server = True
            return None
        # The server's answer is checked, not trusted: one that ignores the filters lists
        # other files. A server that cannot answer the question gets the file.
        self.asked_server = True
        if (stored is None or stored.get("size") != size or not stored.get("id")
                or str(stored.get("sha256", "")).lower() != sha256
                or stored.get("relative_path") != clean_relative_path(self.record.relative_path)
                or stored.get("category") != self.record.category):
            return None
        self._on_progress(size)
        base = self.connection.target.server_url
        assert base is not None  # asked through the toolbox API
        return Uploaded(sha256, file_page(base, str(stored["id"])))

    async def _direct(self, source: Path, size: int, sha256: str | None,
                      on_verifying: Callable[[], object]) -> Outcome:
        """One multipart request to a toolbox server that has no tus endpoint."""
        api = self.connection.api
        assert api is not None
        if choose_strategy(size) is not Strategy.DIRECT:
            raise TransferError(ErrorKind.FATAL, "This server takes only small files "
                                "(it does not offer resumable uploads).")
        digest = sha256 or str(await self._blocking(pipeline.sha256_file, source))
        self.may_have_arrived = True  # no byte-level progress here: assume it may have
        record = await api.direct_upload(
            source, filename=self.record.display_name, relative_path=self.record.relative_path,
            category=self.record.category, sha256=digest)
        self._on_progress(size)
        on_verifying()
        file_id = str(record.get("id") or "")
        if str(record.get("sha256", digest)).lower() != digest:
            raise TransferError(ErrorKind.RESTART, "The server's copy does not match the file.",
                                code="sha256_mismatch")
        base = self.connection.target.server_url
        assert base is not None  # a toolbox server's own upload route
        return Uploaded(digest, file_page(base, file_id) if file_id else None)

    def _metadata(self, sha256: str | None) -> dict[str, str]:
        record = self.record
        filetype = record.mime_type or mimetypes.guess_type(record.display_name)[0] or ""
        metadata = {
            "filename": record.display_name,
            "relativePath": record.relative_path,
            "category": record.category,
        }
        if filetype:
            metadata["filetype"] = filetype
        if sha256:
            metadata["sha256"] = sha256
        return metadata

    async def _resume_hash(self, source: Path, offset: int) -> FingerprintedHash | None:
        """The hash state at the server's offset, or ``None`` if the sent prefix changed."""
        record = self.record
        saved_at, saved = record.prefix_offset, record.prefix_sha256
        if saved and 0 < saved_at <= os.stat(source).st_size:
            state = await self._blocking(FingerprintedHash.from_prefix, source, saved_at)
            assert isinstance(state, FingerprintedHash)
            if state.prefix_digest() != saved:
                return None
            if offset >= saved_at:
                await self._blocking(state.rollback, offset, source)
                state.checkpoint()
                return state
        state = await self._blocking(FingerprintedHash.from_prefix, source, offset)
        assert isinstance(state, FingerprintedHash)
        return state

    async def _watch_source(self) -> None:
        """Notice an edit while the bytes are going out, and cut the upload short."""
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            changed = pipeline.source_changed(self.record)
            if changed:
                self._edited = str(changed)
                self._cut()
                return
