"""The whole-file SHA-256 of an upload, kept up to date while bytes arrive.

``finalize`` needs the file's SHA-256; re-reading a 1 GiB file at completion would
double the disk work, so the hash is fed with each buffer as it is written. Only
after a restart (no hasher in memory) is it rebuilt, once, from the part file.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from toolbox_uploader.server.tus.state import RunningHash, TusState

READ_SIZE = 1024 * 1024


def hash_prefix(path: Path, length: int) -> RunningHash:
    """SHA-256 of the first ``length`` bytes of ``path`` (runs in a worker thread)."""
    hasher = hashlib.sha256()
    remaining = length
    with open(path, "rb") as handle:
        while remaining > 0:
            block = handle.read(min(READ_SIZE, remaining))
            if not block:
                break
            hasher.update(block)
            remaining -= len(block)
    return RunningHash(hasher, length - remaining)


async def ensure_hasher(state: TusState, upload_id: str, path: Path, offset: int) -> RunningHash:
    running = state.hashers.get(upload_id)
    if running is None or running.offset != offset:
        if offset == 0:
            running = RunningHash(hashlib.sha256(), 0)
        else:
            loop = asyncio.get_running_loop()
            running = await loop.run_in_executor(None, hash_prefix, path, offset)
        state.hashers[upload_id] = running
    return running
