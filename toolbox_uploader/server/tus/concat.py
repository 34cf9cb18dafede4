"""The concatenation extension: partial uploads merged, in order, by a final upload.

The final upload's file is made by streaming each partial's bytes into a new part
file while hashing them, so its SHA-256 is known without another pass. Partial uploads
are never validated or stored as files; they are removed once the final one is built.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from yarl import URL

from toolbox_uploader.server.errors import ApiError
from toolbox_uploader.server.storage import ID_PATTERN

COPY_SIZE = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ConcatRequest:
    partial: bool
    parts: tuple[str, ...] = ()


def parse_upload_concat(value: str | None, prefix: str) -> ConcatRequest | None:
    """``partial`` or ``final;<url> <url> …`` (absolute URLs or paths on this server)."""
    if value is None:
        return None
    text = value.strip()
    if text == "partial":
        return ConcatRequest(partial=True)
    kind, sep, urls = text.partition(";")
    if kind.strip() != "final" or not sep:
        raise ApiError(400, "invalid_concat", "Upload-Concat is 'partial' or 'final;<urls>'.")
    parts: list[str] = []
    for item in urls.split():
        try:
            path = URL(item).path
        except (ValueError, TypeError):
            raise ApiError(400, "invalid_concat", f"{item!r} is not an upload URL.") from None
        head, _, upload_id = path.rstrip("/").rpartition("/")
        if head.rstrip("/") != prefix or not ID_PATTERN.match(upload_id):
            raise ApiError(400, "invalid_concat", f"{item!r} is not an upload on this server.")
        if upload_id in parts:
            raise ApiError(400, "invalid_concat", "A partial upload is listed twice.")
        parts.append(upload_id)
    if not parts:
        raise ApiError(400, "invalid_concat", "A final upload lists at least one partial.")
    return ConcatRequest(partial=False, parts=tuple(parts))


def assemble(sources: list[tuple[Path, int]], dest: Path) -> tuple[int, str]:
    """Copy ``length`` bytes of each source, in order, into ``dest``; return size and SHA-256.

    Runs in a worker thread. ``dest`` is replaced if it exists (a retried assembly).
    Like a PATCH, it relies on the page cache rather than an fsync (see ``receive``).
    """
    hasher = hashlib.sha256()
    size = 0
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for source, length in sources:
            with open(source, "rb") as handle:
                remaining = length
                while remaining > 0:
                    block = handle.read(min(COPY_SIZE, remaining))
                    if not block:
                        raise OSError(f"partial upload {source.name} is shorter than its length")
                    hasher.update(block)
                    view = memoryview(block)
                    while view:
                        view = view[os.write(fd, view):]
                    remaining -= len(block)
                    size += len(block)
    except BaseException:
        os.close(fd)
        dest.unlink(missing_ok=True)
        raise
    os.close(fd)
    return size, hasher.hexdigest()
