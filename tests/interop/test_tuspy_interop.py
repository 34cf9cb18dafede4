"""tuspy (tusclient), an independent tus client, uploads to the real server."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from tusclient import client as tus_client

from tests.support.payloads import blob
from toolbox_uploader.server.storage import Storage

pytestmark = pytest.mark.interop

MiB = 1024 * 1024


def _text(size: int) -> bytes:
    line = b"Fractions worksheet exercise one asks for three quarters plus one eighth.\n"
    return (line * (size // len(line) + 1))[:size]


@pytest.mark.parametrize(
    ("size", "chunk_size", "category", "binary"),
    [
        (300, 1, "educational_content", False),  # one byte per PATCH
        (20 * MiB + 3, 8 * MiB, "temporary", True),
        (3 * MiB + 1, 64 * MiB, "educational_content", False),  # chunk larger than the file
    ],
    ids=["1-byte-chunks", "8MiB-chunks", "chunk-larger-than-file"],
)
def test_tuspy_uploads_byte_for_byte(
    live_server, server_config, tmp_path: Path, size: int, chunk_size: int, category: str,
    binary: bool,
) -> None:
    payload = blob(size) if binary else _text(size)
    source = tmp_path / "source.bin"
    source.write_bytes(payload)
    client = tus_client.TusClient(
        f"{live_server.url}/api/v1/storage/tus/",
        headers={"Authorization": f"Bearer {live_server.token}"},
    )
    uploader = client.uploader(
        str(source),
        chunk_size=chunk_size,
        metadata={"filename": "source.bin" if binary else "worksheet.txt", "category": category,
                  "sha256": hashlib.sha256(payload).hexdigest()},
        upload_checksum=chunk_size > 1,  # tuspy sends sha1 Upload-Checksum per chunk
    )
    uploader.upload()
    assert uploader.offset == size
    file_id = uploader.url.rstrip("/").rsplit("/", 1)[-1]
    stored = Storage(server_config.data_dir).file_path(file_id)
    assert stored.read_bytes() == payload
