"""The blocking per-file steps before an upload: check, shrink, fingerprint.

They run in worker threads (the engine's prepare pool) ahead of the uploads, so a slow
PDF check never holds a network slot. Each function is plain and synchronous; the engine
decides the states around them.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from toolbox_uploader.core.events import Reason
from toolbox_uploader.core.session_store import ItemRecord
from toolbox_uploader.core.source_files import open_source

#: Files up to this size are hashed before upload: the hash goes with the upload (the
#: server checks it) and finds re-added files that are already on the server.
HASH_AHEAD_BYTES = 10 * 1024 * 1024
_READ = 1024 * 1024
_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"})


@dataclass(frozen=True, slots=True)
class Checked:
    """Outcome of validating one file."""

    accepted: bool
    size: int
    mtime: float
    mime_type: str | None
    sha256: str | None = None
    reason: Reason | None = None
    warnings: tuple[Reason, ...] = ()
    optimizable: bool = False
    #: The whole file as it was hashed, when it was small enough to keep (``keep_body``).
    body: bytes | None = None


@dataclass(frozen=True, slots=True)
class Optimized:
    path: Path
    size: int
    sha256: str | None
    warnings: tuple[Reason, ...] = field(default=())


def file_stat(path: Path) -> tuple[int, float]:
    st = os.stat(path)
    return st.st_size, st.st_mtime


def sha256_file(path: Path, limit: int | None = None) -> str:
    digest = hashlib.sha256()
    remaining = limit
    with open_source(path) as handle:
        while remaining is None or remaining > 0:
            block = handle.read(_READ if remaining is None else min(_READ, remaining))
            if not block:
                break
            digest.update(block)
            if remaining is not None:
                remaining -= len(block)
    return digest.hexdigest()


def _read_whole(path: Path, size: int) -> bytes | None:
    """The file's bytes if it still has ``size`` of them, else ``None``."""
    with open_source(path, buffering=0) as handle:
        data = handle.read(size + 1)
    return data if len(data) == size else None


def check_file(path: Path, category: str, display_name: str, keep_body: int = 0) -> Checked:
    """Validate with the same rules as the server (``core.validation``) and hash small files.

    An accepted file of at most ``keep_body`` bytes is read once, hashed from memory and
    returned as ``Checked.body``. A file that changed size meanwhile is hashed from disk;
    the size and mtime taken first then tell the upload that it changed.
    """
    from toolbox_uploader.core.categories import UnknownCategoryError
    from toolbox_uploader.core.validation import validate_file

    size, mtime = file_stat(path)
    try:
        report = validate_file(path, category, filename=display_name)
    except UnknownCategoryError as exc:
        return Checked(False, size, mtime, None, reason=Reason("unknown_category", str(exc)))
    if not report.accepted:
        reasons = report.reasons or (Reason("rejected", f"{display_name} was not accepted."),)
        reason = Reason(reasons[0].code, " ".join(r.message for r in reasons))
        return Checked(False, size, mtime, report.mime_type, reason=reason,
                       warnings=report.warnings)
    optimizable = report.mime_type in _IMAGE_TYPES
    body = _read_whole(path, size) if size <= keep_body and not optimizable else None
    if body is not None:
        digest: str | None = hashlib.sha256(body).hexdigest()
    else:
        digest = sha256_file(path) if size <= HASH_AHEAD_BYTES else None
    return Checked(True, size, mtime, report.mime_type, sha256=digest, warnings=report.warnings,
                   optimizable=optimizable, body=body)


def optimize_copy(path: Path, out_dir: Path, *, max_edge: int, quality: int | None,
                  strip_location: bool, shrink: bool = True) -> Optimized | None:
    """An optimized copy in ``out_dir`` when it is worth sending instead; originals untouched.

    ``None`` when the original is already the better file to send. Raises
    ``optimize.OptimizeError`` for pictures Pillow cannot re-encode.
    """
    from toolbox_uploader.core.optimize import OptimizeSettings, optimize_image

    settings = OptimizeSettings(max_edge=max_edge, quality=quality,
                                strip_location=strip_location, shrink=shrink)
    result = optimize_image(path, out_dir, settings)
    if Path(result.output) == path:  # a stripped copy keeps the original pixels: still sent
        return None
    out_path = Path(result.output)
    size = out_path.stat().st_size
    digest = sha256_file(out_path) if size <= HASH_AHEAD_BYTES else None
    # Present tense: the row shows it from "ready" on, before and after the copy is sent.
    note = Reason("optimized", f"A prepared copy is sent, not the original "
                               f"({', '.join(result.actions)}): "
                               f"{result.original_size:,} → {size:,} bytes.")
    return Optimized(out_path, size, digest, (note,))


def source_changed(record: ItemRecord) -> str | None:
    """Why the file to send differs from what was queued, or ``None`` when it is the same.

    Any error reaching the file counts as "missing", not only "not found": a share that
    went away answers ESTALE, ENOTCONN or EIO, a folder replaced by a file ENOTDIR. Raised,
    such an error ended the upload's watcher silently (the upload went on from the open
    descriptor) and then failed the file for good instead of "put it back and retry"."""
    try:
        size, mtime = file_stat(Path(record.source_path))
    except OSError:
        return "missing"
    if record.size is not None and size != record.size:
        return "size"
    if record.mtime is not None and abs(mtime - record.mtime) > 1e-6:
        return "mtime"
    if record.optimized_path:
        try:
            if file_stat(Path(record.optimized_path))[0] != record.optimized_size:
                return "optimized"
        except FileNotFoundError:
            return "optimized"
    return None
