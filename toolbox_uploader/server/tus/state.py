"""Per-process state of the tus endpoint: upload locks and running whole-file hashers.

Both are in memory on purpose. A lock only has to outlive a request; a hasher is a
cache of "SHA-256 of the first N bytes" that ``hashing.ensure_hasher`` rebuilds from
the part file when the server restarted mid-upload.
"""

from __future__ import annotations

import asyncio
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


@dataclass(slots=True)
class _Lock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # holders and waiters; the entry is dropped when it reaches 0


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
        if entry.lock.locked() and not wait:
            raise ApiError(
                423, "upload_locked",
                "Another request is writing this upload; retry after it has finished.",
            )
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0 and self.locks.get(upload_id) is entry:
                del self.locks[upload_id]

    def forget(self, upload_id: str) -> None:
        self.hashers.pop(upload_id, None)


STATE: web.AppKey[TusState] = web.AppKey("tus_state", TusState)
