"""Parsing and formatting of the tus 1.0.0 request and response headers.

Every parser raises ``ApiError`` with the status the spec asks for, so a handler never
turns a malformed header into a 500. Numbers are matched with a strict regex (no sign,
no spaces, at most 19 digits) rather than ``int()``, which would accept ``" +1_0 "``.
"""

from __future__ import annotations

import base64
import binascii
import re
from email.utils import formatdate

from aiohttp import web

from toolbox_uploader.server.errors import TUS_RESUMABLE, ApiError
from toolbox_uploader.server.single_values import single_header

__all__ = ["single_header"]  # where the tus modules have always found it

TUS_VERSION = TUS_RESUMABLE
TUS_EXTENSIONS = (
    "creation",
    "creation-with-upload",
    "creation-defer-length",
    "expiration",
    "checksum",
    "termination",
    "concatenation",
    "concatenation-unfinished",
)
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"

_NUMBER = re.compile(r"^[0-9]{1,19}$")
_METADATA_KEY = re.compile(r"^[\x21-\x2b\x2d-\x7e]+$")  # printable ASCII, no space or comma
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # control characters, DEL
_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
_MAX_METADATA_PAIRS = 64


def require_tus_resumable(request: web.Request) -> None:
    """412 with ``Tus-Version`` unless the client speaks our protocol version."""
    value = single_header(request, "Tus-Resumable")
    if value is None or value.strip() != TUS_VERSION:
        raise ApiError(
            412, "unsupported_version",
            f"Tus-Resumable {value!r} is not supported; this server speaks {TUS_VERSION}.",
            {"Tus-Version": TUS_VERSION},
        )


def metadata_header(request: web.Request) -> str | None:
    """``Upload-Metadata`` is a comma-separated list, so several lines are one list
    (RFC 9110 §5.3); reading the first alone would lose the pairs of the others."""
    values = [value.strip() for value in request.headers.getall("Upload-Metadata", [])]
    return ",".join(value for value in values if value) if values else None


def parse_number(name: str, value: str | None) -> int | None:
    """A non-negative integer header, ``None`` when absent, 400 when malformed."""
    if value is None:
        return None
    text = value.strip()
    if not _NUMBER.match(text):
        raise ApiError(400, "invalid_header", f"{name} must be a non-negative integer.")
    return int(text)


def parse_defer_length(value: str | None) -> bool:
    if value is None:
        return False
    if value.strip() != "1":
        raise ApiError(400, "invalid_header", "Upload-Defer-Length must be 1.")
    return True


def b64decode(text: str, what: str) -> bytes:
    """Strict standard base64 (the spec's alphabet); 400 on anything else."""
    if len(text) % 4 or not _BASE64.match(text):
        raise ApiError(400, "invalid_base64", f"{what} is not valid base64.")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "invalid_base64", f"{what} is not valid base64.") from None


def parse_metadata(value: str | None) -> dict[str, str | None]:
    """``Upload-Metadata`` → ``{key: base64 value or None}``, keys unique.

    Values stay base64-encoded in the store (they may be any bytes) so that HEAD echoes
    exactly what was sent; ``metadata_text`` decodes the ones the server uses.
    """
    result: dict[str, str | None] = {}
    if value is None or not value.strip():
        return result
    pairs = value.split(",")
    if len(pairs) > _MAX_METADATA_PAIRS:
        raise ApiError(400, "invalid_metadata", "Upload-Metadata has too many pairs.")
    for pair in pairs:
        parts = pair.strip().split(" ")
        if len(parts) > 2 or not parts[0]:
            raise ApiError(400, "invalid_metadata", "Upload-Metadata pairs are 'key base64'.")
        key = parts[0]
        if not _METADATA_KEY.match(key):
            raise ApiError(400, "invalid_metadata", f"Invalid Upload-Metadata key {key!r}.")
        if key in result:
            raise ApiError(400, "invalid_metadata", f"Upload-Metadata key {key!r} repeats.")
        encoded = parts[1] if len(parts) == 2 else None
        if encoded is not None:
            b64decode(encoded, f"Upload-Metadata value of {key!r}")
        result[key] = encoded
    return result


def format_metadata(metadata: dict[str, str | None]) -> str:
    return ",".join(key if value is None else f"{key} {value}" for key, value in metadata.items())


def metadata_text(
    metadata: dict[str, str | None], key: str, free_text: bool = False
) -> str | None:
    """A metadata value as text; 400 if it is not UTF-8 or holds control characters.

    ``free_text`` (a description): the caller checks it as the multipart upload does,
    which keeps line breaks and tabs; names and the like stay strict.
    """
    encoded = metadata.get(key)
    if encoded is None:
        return None
    try:
        text = base64.b64decode(encoded).decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_metadata", f"Metadata {key!r} is not UTF-8 text.") from None
    if not free_text and _CONTROL.search(text):
        raise ApiError(
            400, "invalid_metadata", f"Metadata {key!r} contains control characters."
        )
    return text


def http_date(timestamp: float) -> str:
    """RFC 9110 IMF-fixdate, the format ``Upload-Expires`` uses."""
    return formatdate(timestamp, usegmt=True)
