"""Drive ``TusClient.upload_file`` as the engine does after a cut: HEAD, continue; bounded."""

from __future__ import annotations

from pathlib import Path

from toolbox_uploader.core.hashing import HashState
from toolbox_uploader.core.strategy import ChunkSizer
from toolbox_uploader.core.transfer_errors import TransferError
from toolbox_uploader.core.tus_client import TusClient

MIB = 1024 * 1024


async def upload_resuming(
    client: TusClient, url: str, source: Path, *, size: int, hasher: HashState, chunk: int,
    attempts: int = 10,
) -> int:
    """Upload ``source`` whole, resuming from the server's offset after each retryable error."""
    offset = 0
    for _attempt in range(attempts):
        try:
            return await client.upload_file(
                url, source, offset=offset, length=size, hasher=hasher,
                on_progress=lambda _: None,
                chunk_sizer=ChunkSizer(initial=chunk, minimum=MIB, maximum=chunk),
            )
        except TransferError as error:
            assert error.retryable, error
            offset = (await client.head(url)).offset
    return offset
