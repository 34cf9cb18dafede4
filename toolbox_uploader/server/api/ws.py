"""``GET /ws/upload/{file_id}``: live progress of one upload over a WebSocket.

Authentication and ownership are checked before the upgrade, so a stranger gets a plain
401/404 JSON answer and never an open socket. Messages come from the ``ProgressHub``
(fed by the tus and direct-upload handlers); the database is the fallback truth: it
gives the first snapshot, the final message when the upload finished before the client
connected, and a periodic re-check so that an upload that ends without a final
progress event (expired, removed) still closes the socket.

A client that stops reading (its receive window stays shut) would block the send for
good: aiohttp has no send timeout, the kernel keeps probing a zero window forever, and
closing waits for the unsent bytes, so each such socket kept its handler, ~160 KB of
buffered messages and megabytes of kernel buffer, even after its upload had ended. A
send (or the closing handshake) that has not gone out within the server's idle timeout
(``tus_idle_timeout``, as for stalled downloads) ends the connection at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from collections.abc import Awaitable
from typing import Any

from aiohttp import WSMsgType, web

from toolbox_uploader.server import keys
from toolbox_uploader.server.accounts import Account
from toolbox_uploader.server.api import params
from toolbox_uploader.server.api.direct_upload import DIRECT_UPLOADS
from toolbox_uploader.server.auth import request_account
from toolbox_uploader.server.errors import ApiError
from toolbox_uploader.server.progress import FINAL_STATUSES
from toolbox_uploader.server.tus.receive import idle_timeout

RECHECK_SECONDS = 5.0
HEARTBEAT_SECONDS = 30.0


def progress_message(
    file_id: str, uploaded: int, total: int | None, status: str, message: str | None = None
) -> dict[str, Any]:
    """The same shape the ``ProgressHub`` publishes, built from stored state."""
    if total:
        percentage: float | None = round(100.0 * uploaded / total, 2)
    else:
        percentage = 100.0 if total == 0 else None
    data: dict[str, Any] = {
        "file_id": file_id,
        "bytes_uploaded": uploaded,
        "total_bytes": total,
        "progress_percentage": percentage,
        "status": status,
        "upload_speed": 0.0,
        "estimated_time_remaining": 0.0 if status in FINAL_STATUSES else None,
    }
    if message:
        data["message"] = message
    return {"type": "upload_progress", "data": data}


def _state(app: web.Application, account: Account, file_id: str) -> dict[str, Any] | None:
    """The upload's current state as a message, or ``None`` when it is not the account's."""
    db = app[keys.DATABASE]
    row = db.fetchone(  # an alias (an upload that completed as a copy) is its file
        "SELECT size FROM files WHERE owner = ?1 AND id = COALESCE("
        "(SELECT file_id FROM file_aliases WHERE id = ?2 AND owner = ?1), ?2)",
        (account.id, file_id),
    )
    if row is not None:
        return progress_message(file_id, row["size"], row["size"], "completed")
    row = db.fetchone(
        "SELECT length, offset, status, failure FROM uploads WHERE id = ? AND owner = ?",
        (file_id, account.id),
    )
    if row is not None:
        status = row["status"] or "receiving"
        status = "uploading" if status == "receiving" else status
        return progress_message(
            file_id, row["offset"], row["length"], status, _failure_text(row["failure"])
        )
    if app[DIRECT_UPLOADS].get(file_id) == account.id:
        return progress_message(file_id, 0, None, "uploading")
    return None


def _failure_text(failure: str | None) -> str | None:
    """The tus store keeps a failure as JSON ``{"status", "error", "message"}``."""
    if not failure:
        return None
    try:
        data = json.loads(failure)
    except ValueError:
        return failure
    return str(data.get("message") or failure) if isinstance(data, dict) else failure


def _is_final(event: dict[str, Any]) -> bool:
    return event["data"]["status"] in FINAL_STATUSES


async def upload_progress(request: web.Request) -> web.WebSocketResponse:
    account = request_account(request)
    file_id = params.file_id(request.match_info["file_id"])
    app = request.app
    if _state(app, account, file_id) is None:
        raise params.not_found("upload")
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS)
    if not ws.can_prepare(request).ok:
        raise ApiError(
            426, "websocket_required", "Open this address as a WebSocket.",
            {"Upgrade": "websocket"},
        )
    hub = app[keys.PROGRESS]
    queue = hub.subscribe(file_id)  # before reading the state: no final event can slip by
    try:
        await ws.prepare(request)
        state = _state(app, account, file_id)
        if state is None or _is_final(state):
            final = state or progress_message(file_id, 0, None, "terminated", "The upload is gone.")
            await _bounded(request, ws.send_json(final))
        else:
            if queue.empty():
                await _bounded(request, ws.send_json(state))
            await _relay(ws, queue, request, account, file_id)
        await _bounded(request, ws.close())
        transport = request.transport
        if transport is not None and transport.get_write_buffer_size() > 0:
            _cut(request)  # closed (its close frame never came): the rest would never go
    except _Stalled:
        _cut(request)
    finally:
        hub.unsubscribe(file_id, queue)
    return ws


class _Stalled(Exception):
    """The client has not taken what was sent for the idle timeout."""


async def _bounded(request: web.Request, step: Awaitable[object]) -> None:
    """Run a send or the close; ``_Stalled`` when it waits on the client for too long."""
    try:
        await asyncio.wait_for(step, idle_timeout(request.app))
    except TimeoutError:
        raise _Stalled from None


def _cut(request: web.Request) -> None:
    """End a stalled connection now, unsent bytes and all (a plain close would wait for
    them to go out); a reset also frees the kernel's buffer at once."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _relay(
    ws: web.WebSocketResponse, queue: asyncio.Queue[dict[str, Any] | None],
    request: web.Request, account: Account, file_id: str,
) -> None:
    """Forward events until a final one, the client leaves, or the upload vanishes.

    Both helper tasks end with the relay, however it ends (a client that closed, the
    handler cancelled when its connection dropped): one left waiting on the queue stays
    pending for good, and asyncio logs an error when it is collected."""
    app = request.app
    closed = asyncio.ensure_future(_until_closed(ws))
    getter: asyncio.Future[dict[str, Any] | None] | None = None
    try:
        while not closed.done():
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait(
                {getter, closed}, timeout=RECHECK_SECONDS, return_when=asyncio.FIRST_COMPLETED
            )
            if getter not in done:
                if closed.done():
                    return
                state = _state(app, account, file_id)
                if state is None or _is_final(state):
                    await _bounded(request, ws.send_json(state or progress_message(
                        file_id, 0, None, "terminated", "The upload is gone."
                    )))
                    return
                getter.cancel()
                continue
            event = getter.result()
            if event is None:
                return
            await _bounded(request, ws.send_json(event))
            if _is_final(event):
                return
    finally:
        helpers = [task for task in (closed, getter) if task is not None]
        for task in helpers:
            task.cancel()
        # Wait for them to finish cancelling; not cancellable itself, so that a second
        # cancellation of the handler cannot leave them half-way.
        await asyncio.shield(asyncio.gather(*helpers, return_exceptions=True))


async def _until_closed(ws: web.WebSocketResponse) -> None:
    """Read (and ignore) client messages; return when the client closes."""
    async for msg in ws:
        if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
            break


def setup(app: web.Application) -> None:
    app.router.add_get(f"/ws/upload/{{file_id:{params.ID_ROUTE}}}", upload_progress,
                       allow_head=False)
