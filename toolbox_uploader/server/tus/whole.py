"""Creation-with-upload of a small file sent whole: received in memory, stored in one go.

Most of a teacher's files are worksheets of a few hundred KB, each sent as one POST
whose body is the whole file. Streamed like a big file, each costs three SQLite commits
(the row, the offset, the completion), a part file created empty and opened again, and
the upload's lock and running hash. Here a body of at most ``WHOLE_MAX`` bytes whose
Content-Length is the upload's length is read into memory first; the worker job that
validates and stores it also writes and hashes it, and the upload's row is written once,
in the transaction that records the file (or with the failure). On the many-files
benchmark that took 15–25% off the server's CPU time per file.

Anything but a whole, verified body ends as the streaming path would have left it: the
bytes that arrived become an ordinary resumable upload (none of them if
``Upload-Checksum`` did not match) and the same error is returned with its Location.
Such an upload is unfinished like any other, so it is kept only while the account is
below ``max_unfinished_uploads``; past it nothing is kept and the error comes without a
Location (the client sends the file again), or a client could pile up any number of
unfinished uploads by getting each creation's checksum wrong.

While the body is in memory the upload has no row, so its length is not yet reserved in
the quota: a second upload that squeezes in meanwhile is refused at completion (413)
rather than at creation. The quota is never exceeded either way.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from toolbox_uploader.server import keys
from toolbox_uploader.server.accounts import Account
from toolbox_uploader.server.body_pace import BodyPace
from toolbox_uploader.server.errors import ApiError
from toolbox_uploader.server.storage import write_new_file
from toolbox_uploader.server.tus.access import room_for_unfinished
from toolbox_uploader.server.tus.checksum import ChunkChecksum
from toolbox_uploader.server.tus.complete import complete_upload, upload_store
from toolbox_uploader.server.tus.receive import (
    Outcome,
    checksum_mismatch,
    idle_timeout,
    next_piece,
)
from toolbox_uploader.server.tus.store import SINGLE, Upload
from toolbox_uploader.server.tus.writing import Limit, body_error

log = logging.getLogger(__name__)

#: Bodies up to this size are held in memory; one per request in flight.
WHOLE_MAX = 1024 * 1024


def sent_whole(request: web.Request, upload: Upload) -> bool:
    """Does this creation request carry the whole of a small single upload?"""
    length = upload.length
    return (
        upload.kind == SINGLE and length is not None and 0 < length <= WHOLE_MAX
        and request.content_length == length
    )


async def receive_whole(
    request: web.Request, account: Account, upload: Upload, checksum: ChunkChecksum | None
) -> None:
    """Store the upload (``sent_whole`` holds) or leave it resumable; raises ``ApiError``."""
    assert upload.length is not None
    pieces: list[bytes] = []
    try:
        outcome = await _read(request, upload.length, pieces)
    except asyncio.CancelledError:  # the client went away and aiohttp cancelled us
        _keep(request, account, upload, [] if checksum is not None else pieces)
        raise
    if checksum is not None and outcome.received_all:
        for piece in pieces:
            checksum.hasher.update(piece)
        if not checksum.matches():
            if _keep(request, account, upload, []):
                raise checksum_mismatch(checksum)
            raise _nothing_kept(request, checksum_mismatch(checksum))
    if not outcome.received_all:
        kept = _keep(request, account, upload, [] if checksum is not None else pieces)
        error = body_error(outcome, upload, Limit.length(upload.length), resumable=kept)
        assert error is not None
        raise error if kept else _nothing_kept(request, error)
    upload.offset = upload.length
    await complete_upload(request.app, account, upload, content=pieces)


async def _read(request: web.Request, length: int, pieces: list[bytes]) -> Outcome:
    """Gather the body into ``pieces`` (kept by the caller even if this is cancelled)."""
    idle = idle_timeout(request.app)
    pace = BodyPace(idle)
    received = 0
    outcome = Outcome(received_all=False)
    while True:
        try:
            piece = await next_piece(request, idle, outcome)
        except TimeoutError:
            outcome.cut_reason = f"no data for {idle:g} s"
            break
        if piece is None:
            break
        if not piece:
            outcome.received_all = received == length
            if not outcome.received_all:
                outcome.cut_reason = "the connection closed early"
            break
        pieces.append(piece)
        received += len(piece)
        pace.add(len(piece))
        if pace.too_slow():
            outcome.too_slow, outcome.cut_reason = True, pace.describe()
            break
    return outcome


def _keep(request: web.Request, account: Account, upload: Upload, pieces: list[bytes]) -> bool:
    """Make the upload an ordinary, resumable one holding ``pieces``; ``False`` (nothing
    kept) when the account already holds as many unfinished uploads as the server keeps.

    On the loop, not in a worker: it also runs while the handler is being cancelled, and
    at most ``WHOLE_MAX`` bytes go to the page cache (well under a millisecond). The room
    is checked and the row written with no ``await`` between, so parallel creations
    cannot all squeeze into the last free place.
    """
    if not room_for_unfinished(request.app, account):
        return False
    path = request.app[keys.STORAGE].upload_path(upload.id)
    try:
        upload.offset = write_new_file(path, pieces)
    except OSError:  # a full disk: keep the upload, empty (the next PATCH makes its file)
        log.exception("upload %s: could not keep the bytes that arrived", upload.id)
        path.unlink(missing_ok=True)
        upload.offset = 0
    upload_store(request.app).insert(upload)
    request.app[keys.PROGRESS].publish(upload.id, upload.offset, upload.length, "uploading")
    return True


def _nothing_kept(request: web.Request, error: ApiError) -> ApiError:
    """A refusal whose bytes were not kept: same status and code, no upload to resume."""
    most = request.app[keys.CONFIG].max_unfinished_uploads
    return ApiError(
        error.status, error.code,
        f"{error.message} This account already has {most:,} unfinished uploads, the most "
        "this server keeps, so no upload was made to resume: send the file again.",
        error.headers,
    )
