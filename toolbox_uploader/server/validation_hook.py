"""The server's check of a completed file against its category's rules.

A validator is ``(path, category, filename) -> ValidationOutcome`` and runs in a worker
thread. The default delegates to the engine's ``validate_file`` so that the desktop app
and the server apply the very same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import magic

from toolbox_uploader.core.categories import UnknownCategoryError, canonical_mime, get_category


@dataclass(frozen=True, slots=True)
class ValidationOutcome:
    accepted: bool
    mime_type: str | None
    code: str = "ok"
    message: str = ""


def default_validator(path: Path, category: str, filename: str) -> ValidationOutcome:
    # INTERIM until core.validation lands: size, libmagic type and the category table.
    try:
        rules = get_category(category)
    except UnknownCategoryError as exc:
        return ValidationOutcome(False, None, "unknown_category", str(exc))
    size = Path(path).stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(64 * 1024)
    mime = canonical_mime(magic.from_buffer(head, mime=True)) if head else "inode/x-empty"
    if size == 0:
        return ValidationOutcome(False, mime, "empty_file", "The file is empty.")
    if size > rules.max_size:
        return ValidationOutcome(
            False, mime, "too_large", f"{filename} is larger than {rules.label} allows."
        )
    if not rules.allows(mime):
        return ValidationOutcome(
            False, mime, "type_not_allowed", f"{mime} files are not allowed in {rules.label}."
        )
    return ValidationOutcome(True, mime)
