"""What the server reads from an upload's metadata: names, category, expected SHA-256.

These values are data only. They are stored in SQLite and returned in JSON; none of
them ever becomes part of a filesystem path (paths come from ids, see ``storage``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from toolbox_uploader.core.categories import (
    DEFAULT_CATEGORY,
    Category,
    UnknownCategoryError,
    get_category,
)
from toolbox_uploader.server.api import params
from toolbox_uploader.server.errors import ApiError
from toolbox_uploader.server.tus.headers import metadata_text

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
MAX_NAME = 1024  # characters; longer "names" are not names


@dataclass(frozen=True, slots=True)
class FileFacts:
    filename: str
    relative_path: str
    category: Category
    sha256: str | None
    title: str | None
    description: str | None


def _bounded(metadata: dict[str, str | None], key: str) -> str | None:
    text = metadata_text(metadata, key)
    if text is not None and len(text) > MAX_NAME:
        raise ApiError(400, "invalid_metadata", f"Metadata {key!r} is too long.")
    return text


def file_facts(metadata: dict[str, str | None]) -> FileFacts:
    """Decode and check the metadata a stored file needs; 400 for anything unusable."""
    # Cleaned as the multipart upload cleans its fields: NFC, the last path segment, no
    # control or bidi characters (they make ``gpj.exe`` read as ``exe.jpg``), bounded.
    raw_name = _bounded(metadata, "filename") or ""
    filename = params.filename(raw_name) if raw_name.strip() else "upload"
    # Cleaned as the multipart upload cleans it, so a file is found by its path whichever
    # way it came (``GET /api/v1/files?relative_path=``).
    relative_path = params.relative_path(_bounded(metadata, "relativePath"))
    category_name = (metadata_text(metadata, "category") or "").strip() or DEFAULT_CATEGORY
    try:
        category = get_category(category_name)
    except UnknownCategoryError as exc:
        raise ApiError(400, "unknown_category", str(exc)) from None
    sha256 = (metadata_text(metadata, "sha256") or "").strip() or None
    if sha256 is not None and not _SHA256.match(sha256):
        raise ApiError(400, "invalid_metadata", "Metadata 'sha256' is 64 hexadecimal digits.")
    return FileFacts(
        filename=filename,
        relative_path=relative_path,
        category=category,
        sha256=sha256.lower() if sha256 else None,
        title=params.text(metadata_text(metadata, "title"), "title", params.MAX_TITLE),
        description=params.text(metadata_text(metadata, "description", free_text=True),
                                "description", params.MAX_DESCRIPTION),
    )
