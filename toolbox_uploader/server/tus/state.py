"""Per-process state of the tus endpoint: upload locks and running whole-file hashers.

Both are in memory on purpose. A lock only has to outlive a request; a hasher is a
cache of "SHA-256 of the first N bytes" that ``hashing.ensure_hasher`` rebuilds from
the part file when the server restarted mid-upload.

A PATCH whose client vanished without closing the connection (a link gone dead, a laptop
put to sleep mid-request) would hold its upload's lock until the idle timeout (60 s), and
the client, back and resuming, would meet nothing but 423s meanwhile. So a request that
has received nothing for ``STALE_HOLD_SECONDS`` gives the lock up to a newer request for
the same upload (owners only reach the lock): it is cancelled, commits what is on disk,
and the newer one goes on (a 409 with the offset if it guessed another). tusd releases
its locks to newer requests for the same reason.
Only while it waits for body bytes: once its body is over, the holder is completing the
upload (validation, the move into storage) and keeps the lock however long that takes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from toolbox_uploader.server.errors import ApiError


@dataclass(slots=True)
class RunningHash:
    hasher: Any  # hashlib sha256 object
    offset: int  # bytes it has seen


#: A lock holder that has received no body byte for this long yields to a newer request.
STALE_HOLD_SECONDS = 3.0
#: How long the newer request waits for the stale holder to commit and let go.
_TAKE_OVER_WAIT = 10.0


@dataclass(slots=True)
class _Lock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # holders and waiters; the entry is dropped when it reaches 0
    holder: asyncio.Task[object] | None = None
    received_at: float | None = None  # the holder's last body byte, while it receives


@dataclass(slots=True)
class TusState:
    locks: dict[str, _Lock] = field(default_factory=dict)
    hashers: dict[str, RunningHash] = field(default_factory=dict)

    def busy(self, upload_id: str) -> bool:
        entry = self.locks.get(upload_id)
        return entry is not None and entry.lock.locked()

    @asynccontextmanager
    async def exclusive(self, upload_id: str, wait: bool = False) -> AsyncIterator[None]:
        """Hold the upload's lock; without ``wait`` a busy upload is a 423 at once.

        Two PATCHes on one upload would interleave bytes at the same offset, so the
        second one is refused rather than queued (the client retries after a HEAD).
        """
        entry = self.locks.setdefault(upload_id, _Lock())
        taking_over = False
        if entry.lock.locked() and not wait:
            taking_over = _stale(entry)
            if not taking_over:
                raise _locked()
            assert entry.holder is not None
            entry.holder.cancel()  # it commits what is on disk, then lets go
        entry.users += 1
        try:
            if taking_over:
                try:
                    await asyncio.wait_for(entry.lock.acquire(), _TAKE_OVER_WAIT)
                except TimeoutError:
                    raise _locked() from None
            else:
                await entry.lock.acquire()
            entry.holder, entry.received_at = asyncio.current_task(), None
            try:
                yield
            finally:
                entry.holder = entry.received_at = None
                entry.lock.release()
        finally:
            entry.users -= 1
            if entry.users == 0 and self.locks.get(upload_id) is entry:
                del self.locks[upload_id]

    def receiving(self, upload_id: str) -> None:
        """The lock's holder received body bytes (or starts to): it is not stale now."""
        entry = self.locks.get(upload_id)
        if entry is not None:
            entry.received_at = time.monotonic()

    def received(self, upload_id: str) -> None:
        """The holder's body is over (read whole, cut, or refused): from here on it writes
        what arrived and may complete the upload, which must never be taken over. A
        completion cancelled half-way (validation or a virus scan often takes longer than
        ``STALE_HOLD_SECONDS``) lost every byte of the file it was storing."""
        entry = self.locks.get(upload_id)
        if entry is not None and entry.holder is asyncio.current_task():
            entry.received_at = None

    def forget(self, upload_id: str) -> None:
        self.hashers.pop(upload_id, None)


def _stale(entry: _Lock) -> bool:
    """A holder that receives a body and has had no byte of it for a while."""
    return (entry.received_at is not None and entry.holder is not None
            and not entry.holder.done()
            and time.monotonic() - entry.received_at >= STALE_HOLD_SECONDS)


def _locked() -> ApiError:
    return ApiError(423, "upload_locked",
                    "Another request is writing this upload; retry after it has finished.")


STATE: web.AppKey[TusState] = web.AppKey("tus_state", TusState)
