"""Stopping the server in the middle of a PATCH leaves a consistent, resumable upload."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.db import ServerDatabase
from toolbox_uploader.server.embedded import EmbeddedServer
from toolbox_uploader.server.storage import Storage

MiB = 1024 * 1024


@pytest.mark.slow
def test_shutdown_mid_patch_commits_what_is_on_disk(server_config: ServerConfig) -> None:
    server = EmbeddedServer(server_config)
    handle = server.start()
    headers = {"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {handle.token}"}
    resp = httpx.post(f"{handle.url}/api/v1/storage/tus/",
                      headers={**headers, "Upload-Length": str(10 * MiB)})
    upload_id = resp.headers["Location"].rsplit("/", 1)[-1]
    sent = 3 * MiB + 5
    sock = socket.create_connection(("127.0.0.1", handle.port))
    try:
        sock.sendall((
            f"PATCH /api/v1/storage/tus/{upload_id} HTTP/1.1\r\nHost: x\r\n"
            f"Tus-Resumable: 1.0.0\r\nAuthorization: Bearer {handle.token}\r\n"
            f"Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n"
            f"Content-Length: {10 * MiB}\r\n\r\n").encode() + b"z" * sent)
        deadline = time.monotonic() + 10
        offset = 0
        while offset < sent and time.monotonic() < deadline:  # stalled client: ~1 s commits
            head = httpx.head(f"{handle.url}/api/v1/storage/tus/{upload_id}", headers=headers)
            offset = int(head.headers["Upload-Offset"])
            time.sleep(0.05)
        assert offset == sent
        sock.sendall(b"y" * 1000)  # more bytes in flight while the server stops
        server.stop()
    finally:
        sock.close()
    db = ServerDatabase(server_config.data_dir / "server.sqlite3")
    try:
        row = db.fetchone("SELECT offset FROM uploads WHERE id = ?", (upload_id,))
    finally:
        db.close()
    part = Storage(server_config.data_dir).upload_path(upload_id)
    assert row["offset"] in (sent, sent + 1000)  # the late bytes may or may not have arrived
    assert part.stat().st_size == row["offset"]
