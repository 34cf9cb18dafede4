"""The whole-file sha256, computed while the bytes are read for sending.

A 4 GB video must not be read twice just to learn its hash, so the uploader feeds every
piece it reads into a ``HashState``. When a PATCH is cut off, the server keeps only part
of it; ``checkpoint``/``rollback`` bring the hash back to the server's offset by re-reading
at most one chunk. After a process restart ``from_prefix`` re-reads only what was sent.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from toolbox_uploader.core.source_files import open_source

READ_PIECE = 1024 * 1024


def _hash_range(hasher: hashlib._Hash, source: Path, start: int, end: int) -> None:
    """Feed bytes [start, end) of ``source`` into ``hasher``; the file must be that long."""
    if end <= start:
        return
    with open_source(source, buffering=0) as handle:
        handle.seek(start)
        remaining = end - start
        while remaining:
            data = handle.read(min(READ_PIECE, remaining))
            if not data:
                raise EOFError(f"{source} is shorter than {end} bytes")
            hasher.update(data)
            remaining -= len(data)


class HashState:
    """sha256 of bytes [0, offset) of the source, with one checkpoint to roll back to."""

    def __init__(self) -> None:
        self._hasher = hashlib.sha256()
        self.offset = 0
        self._checkpoint = self._hasher.copy()
        self._checkpoint_offset = 0

    def update(self, data: bytes | memoryview) -> None:
        self._hasher.update(data)
        self.offset += len(data)

    def checkpoint(self) -> None:
        """Remember the current state (at a PATCH start, or once the server confirmed it)."""
        self._checkpoint = self._hasher.copy()
        self._checkpoint_offset = self.offset

    @property
    def checkpoint_offset(self) -> int:
        return self._checkpoint_offset

    def rollback(self, to_offset: int, source: Path) -> None:
        """Bring the hash to ``to_offset`` (usually the server's offset after a failure).

        From the checkpoint, only [checkpoint, to_offset) is re-read — at most one chunk.
        An offset before the checkpoint (a server that lost confirmed bytes) forces a
        re-read from the start, which is correct if slow.
        """
        if to_offset == self.offset:
            return
        if to_offset < self._checkpoint_offset:
            restored = HashState.from_prefix(source, to_offset)
            self._hasher, self.offset = restored._hasher, restored.offset
            self.checkpoint()
            return
        if to_offset < self.offset:
            self._hasher = self._checkpoint.copy()
            self.offset = self._checkpoint_offset
        _hash_range(self._hasher, source, self.offset, to_offset)
        self.offset = to_offset

    @classmethod
    def from_prefix(cls, source: Path, offset: int) -> HashState:
        """The state after ``offset`` bytes, for resuming an upload in a new process."""
        state = cls()
        _hash_range(state._hasher, source, 0, offset)
        state.offset = offset
        state.checkpoint()
        return state

    def copy(self) -> HashState:
        other = HashState()
        other._hasher = self._hasher.copy()
        other.offset = self.offset
        other._checkpoint = self._checkpoint.copy()
        other._checkpoint_offset = self._checkpoint_offset
        return other

    def adopt(self, other: HashState) -> None:
        """Take over a copy's state (one that hashed a chunk ahead) and checkpoint there."""
        self._hasher = other._hasher.copy()
        self.offset = other.offset
        self.checkpoint()

    def prefix_digest(self) -> str:
        """sha256 hex of bytes [0, offset) so far (the state itself is not disturbed)."""
        return self._hasher.copy().hexdigest()

    def hexdigest(self) -> str:
        """sha256 hex of everything fed so far: the whole file once the upload is complete."""
        return self._hasher.hexdigest()


def file_sha256(source: Path) -> str:
    """sha256 of a whole file, for small files whose hash is sent before the upload."""
    return HashState.from_prefix(source, source.stat().st_size).hexdigest()
