"""Removal of uploads that were not finished before their ``Upload-Expires``.

A periodic task (every ``ServerConfig.cleanup_interval`` seconds) marks such uploads
``expired`` and deletes their bytes; later requests get 410 Gone. Uploads being written
right now are skipped (their expiry moves forward with every commit anyway). Rows of
ended uploads are forgotten after ``TOMBSTONE_SECONDS``; then requests get 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web

from toolbox_uploader.server import keys
from toolbox_uploader.server.tus.complete import upload_store
from toolbox_uploader.server.tus.recovery import (
    finish_stranded_finals,
    hold_back_unfinished,
    reconcile_part_files,
)
from toolbox_uploader.server.tus.state import STATE
from toolbox_uploader.server.tus.store import EXPIRED, RECEIVING

log = logging.getLogger(__name__)

TOMBSTONE_SECONDS = 7 * 24 * 3600.0


def expire_uploads(app: web.Application, now: float | None = None) -> int:
    """Expire what is due; return how many uploads were expired."""
    now = time.time() if now is None else now
    store = upload_store(app)
    state = app[STATE]
    storage = app[keys.STORAGE]
    count = 0
    for upload_id in store.expired_ids(now):
        upload = store.get_any(upload_id)
        if upload is None or state.busy(upload_id) or not upload.expired(now):
            continue
        _expire(app, upload_id, upload.offset, upload.length)
        store.set_status(upload, EXPIRED)
        storage.upload_path(upload_id).unlink(missing_ok=True)
        count += 1
    for final in store.receiving_finals():
        parts = [store.get_any(p) for p in final.parts]
        if state.busy(final.id):
            continue
        if any(p is None or p.status != RECEIVING for p in parts):
            _expire(app, final.id, 0, final.length)
            store.set_status(final, EXPIRED)
            count += 1
    store.purge_tombstones(now - TOMBSTONE_SECONDS)
    return count


def _expire(app: web.Application, upload_id: str, offset: int, length: int | None) -> None:
    app[STATE].forget(upload_id)
    app[keys.PROGRESS].publish(upload_id, offset, length, "expired")


async def _run(app: web.Application, interval: float) -> None:
    """Finish stranded final uploads at once (a crash's leftovers, see ``recovery.py``),
    then each round expire what is due and finish finals stranded meanwhile."""
    delay = 0.0
    while True:
        await asyncio.sleep(delay)
        delay = interval
        try:
            count = expire_uploads(app)
            await finish_stranded_finals(app)
        except Exception:  # keep the task alive; the next round tries again
            log.exception("expired-upload clean-up failed")
        else:
            if count:
                log.info("removed %d expired uploads", count)


async def cleanup_context(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx`` entry: repair what a crash left, then run the periodic clean-up
    while the app runs."""
    hold_back_unfinished(app)  # before any request: see ``recovery.py``
    reconcile_part_files(app)
    interval = max(0.05, float(app[keys.CONFIG].cleanup_interval))
    task = asyncio.create_task(_run(app, interval), name="tus-expiry")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
