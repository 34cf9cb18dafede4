"""The checksum extension: ``Upload-Checksum: <algorithm> <base64 digest>`` per PATCH.

Only algorithms ``hashlib`` implements in C and that every tus client offers are
advertised. checksum-trailer is not: aiohttp's parsers read HTTP trailers and throw
them away (the C parser never surfaces them), so a trailing checksum cannot be seen.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from toolbox_uploader.server.errors import ApiError
from toolbox_uploader.server.tus.headers import b64decode

ALGORITHMS: dict[str, int] = {"sha1": 20, "sha256": 32, "md5": 16}  # name → digest size
ADVERTISED = ",".join(ALGORITHMS)


@dataclass(slots=True)
class ChunkChecksum:
    """The expected digest of one PATCH body and the hasher that checks it."""

    algorithm: str
    expected: bytes
    hasher: Any

    def matches(self) -> bool:
        return self.hasher.digest() == self.expected


def parse_upload_checksum(value: str | None) -> ChunkChecksum | None:
    if value is None:
        return None
    parts = value.strip().split(" ")
    if len(parts) != 2:
        raise ApiError(400, "invalid_checksum", "Upload-Checksum is '<algorithm> <base64>'.")
    algorithm, encoded = parts[0].lower(), parts[1]
    if algorithm not in ALGORITHMS:
        raise ApiError(
            400, "unsupported_checksum",
            f"Checksum algorithm {parts[0]!r} is not supported (use one of {ADVERTISED}).",
        )
    expected = b64decode(encoded, "Upload-Checksum")
    if len(expected) != ALGORITHMS[algorithm]:
        raise ApiError(400, "invalid_checksum", f"A {algorithm} digest is not that long.")
    return ChunkChecksum(algorithm, expected, hashlib.new(algorithm))
