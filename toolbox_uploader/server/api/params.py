"""Checks of client-supplied values: query strings, ids and the text that comes with a file.

Every value from a request is data. Names and paths are cleaned so that they display
safely and stay bounded; none of them ever becomes part of a filesystem path (storage
paths are made from server ids only, see ``server.storage``).
"""

from __future__ import annotations

import json
import re
import unicodedata

from multidict import MultiMapping

from toolbox_uploader.core.categories import CATEGORIES, DEFAULT_CATEGORY
from toolbox_uploader.core.validation.names import clean_relative_path
from toolbox_uploader.server.errors import ApiError
from toolbox_uploader.server.single_values import single_param
from toolbox_uploader.server.storage import ID_PATTERN

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_OFFSET = 2**31  # far beyond any real listing; keeps SQLite integers in range

MAX_RELATIVE_PATH = 1024
MAX_TITLE = 200
MAX_DESCRIPTION = 5000
MAX_TAGS = 50
MAX_TAG = 64

_DIGITS = re.compile(r"^[0-9]{1,12}$")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
#: Regex for route placeholders, so that ``/api/v1/files/upload`` never reads as an id.
ID_ROUTE = r"[0-9a-f]{32}"


def bad_request(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


def not_found(kind: str = "file") -> ApiError:
    return ApiError(404, "not_found", f"No such {kind}.")


def file_id(value: str) -> str:
    """A path id; anything that is not a server id is simply not found."""
    if not ID_PATTERN.match(value):
        raise not_found()
    return value


def _int_param(
    query: MultiMapping[str], name: str, default: int, low: int, high: int
) -> int:
    raw = single_param(query, name)
    if raw is None:
        return default
    if not _DIGITS.match(raw) or not low <= int(raw) <= high:
        raise bad_request(
            "invalid_parameter", f"{name} must be a whole number from {low} to {high}."
        )
    return int(raw)


def pagination(query: MultiMapping[str]) -> tuple[int, int]:
    """``(limit, offset)`` from ``?limit=&offset=``; 400 for anything but plain numbers."""
    limit = _int_param(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _int_param(query, "offset", 0, 0, MAX_OFFSET)
    return limit, offset


def category(value: str | None, *, default: str | None = DEFAULT_CATEGORY) -> str | None:
    """A known category name (or ``default`` when absent); 400 names the known ones."""
    if value is None or value == "":
        return default
    if value not in CATEGORIES:
        known = ", ".join(CATEGORIES)
        raise bad_request("unknown_category", f"Unknown category {value[:64]!r}; known: {known}.")
    return value


#: Bidi embeddings, overrides and isolates: they make ``gpj.exe`` read as ``exe.jpg``.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _no_controls(value: str, what: str) -> str:
    if any(
        c in _BIDI_CONTROLS or unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") for c in value
    ):
        raise bad_request("invalid_field", f"{what} contains control characters.")
    return value


def _no_broken_text(value: str, what: str) -> str:
    """Free text keeps line breaks and tabs, but not other controls or lone surrogates
    (which JSON can carry and SQLite cannot store)."""
    if any(
        (unicodedata.category(c) in ("Cc", "Cs") and c not in "\n\r\t") for c in value
    ):
        raise bad_request("invalid_field", f"{what} contains control characters.")
    return value


def filename(value: str | None) -> str:
    """The file's own name: the last path segment, NFC; never empty.

    Not shortened: a name over 255 bytes is refused by the name rules (422
    ``name_too_long``), as the app refuses it before sending, whatever its characters."""
    value = unicodedata.normalize("NFC", value or "")
    _no_controls(value, "The filename")
    name = re.split(r"[/\\]", value)[-1].strip()
    return "unnamed" if name in ("", ".", "..") else name


def relative_path(value: str | None) -> str:
    """Where the file sat in the teacher's folder, as ``a/b/c.pdf``: data for display only.

    Backslashes become slashes, empty, ``.`` and ``..`` segments are dropped, so the value
    can never climb out of anything even if a later consumer misuses it.
    """
    value = unicodedata.normalize("NFC", value or "")
    _no_controls(value, "relative_path")
    cleaned = clean_relative_path(value)
    if len(cleaned) > MAX_RELATIVE_PATH:
        raise bad_request(
            "invalid_field", f"relative_path is longer than {MAX_RELATIVE_PATH} characters."
        )
    return cleaned


def text(value: str | None, what: str, limit: int) -> str | None:
    if value is None:
        return None
    value = unicodedata.normalize("NFC", value).strip()
    if len(value) > limit:
        raise bad_request("invalid_field", f"{what} is longer than {limit} characters.")
    if what == "title":
        _no_controls(value, "The title")
    else:
        _no_broken_text(value, f"The {what}")
    return value or None


def tags(value: object) -> list[str]:
    """Tags as a JSON list of strings or one comma-separated string."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            try:
                value = json.loads(stripped)
            except (ValueError, RecursionError):  # absurd nesting ends in RecursionError
                raise bad_request("invalid_field", "tags is not valid JSON.") from None
        else:
            value = stripped.split(",")
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise bad_request("invalid_field", "tags must be a list of strings.")
    out: list[str] = []
    for tag in value:
        tag = unicodedata.normalize("NFC", tag).strip()
        _no_controls(tag, "A tag")
        if len(tag) > MAX_TAG:
            raise bad_request("invalid_field", f"A tag is longer than {MAX_TAG} characters.")
        if tag and tag not in out:
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise bad_request("invalid_field", f"At most {MAX_TAGS} tags are allowed.")
    return out


def sha256(value: str | None) -> str | None:
    if value is None or value.strip() == "":
        return None
    value = value.strip()
    if not _SHA256.match(value):
        raise bad_request("invalid_field", "sha256 must be 64 hexadecimal digits.")
    return value.lower()


def declared_size(value: str | None) -> int | None:
    if value is None or value.strip() == "":
        return None
    if not _DIGITS.match(value.strip()):
        raise bad_request("invalid_field", "size must be a whole number of bytes.")
    return int(value)
