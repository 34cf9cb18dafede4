"""``upload -`` keeps ``--bandwidth-limit`` and ``--max-chunk-size``, as uploads of files do.

The stream goes through the same limiter and chunk sizer as a queued file; a pipe used to
be sent at full speed whatever the options said (50 MB with ``--bandwidth-limit 5M`` in
under a second)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.support.fault_proxy import ThreadedFaultProxy
from toolbox_uploader.core.stream_upload import stream_upload
from toolbox_uploader.server.embedded import ServerHandle

MIB = 1024 * 1024


def _send(data: bytes, url: str, token: str, **limits: int) -> tuple[dict[str, object], float]:
    """``stream_upload`` of ``data`` from an in-memory source (read as a pipe would be)."""
    source = io.BytesIO(data)

    async def run() -> dict[str, object]:
        return await stream_upload(source, server_url=url, endpoint=None, token=token,
                                   name="paced.bin", category="temporary", **limits)

    started = time.monotonic()
    result = asyncio.run(asyncio.wait_for(run(), timeout=60))
    return result, time.monotonic() - started


def test_stream_upload_keeps_the_bandwidth_limit(live_server: ServerHandle) -> None:
    data = os.urandom(3 * MIB)
    result, took = _send(data, live_server.url, live_server.token, bandwidth_limit=MIB)
    assert result["size"] == len(data)
    assert result["sha256"] == hashlib.sha256(data).hexdigest()
    # 3 MiB at 1 MiB/s: about 3 s (the bucket lets a quarter second through at once).
    assert took >= 2.5, took
    assert took < 30, took


def test_stream_upload_keeps_the_chunk_size(live_server: ServerHandle) -> None:
    data = os.urandom(4 * MIB)
    port = int(live_server.url.rsplit(":", 1)[1])
    with ThreadedFaultProxy("127.0.0.1", port) as proxy:
        result, _took = _send(data, proxy.url, live_server.token, max_chunk_size=MIB)
        patches = proxy.stats.methods.count("PATCH")
    assert result["size"] == len(data)
    assert patches >= 4, proxy.stats.methods  # never more than 1 MiB a request


def test_upload_dash_keeps_the_bandwidth_limit_end_to_end(live_server: ServerHandle,
                                                          app_home: Path) -> None:
    """The command itself: needs ``upload`` to pass its options on to ``upload_stdin``."""
    data = os.urandom(6 * MIB)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "toolbox_uploader", "upload", "-", "--name", "paced.bin",
         "--category", "temporary", "--server", live_server.url,
         f"--token={live_server.token}", "--bandwidth-limit", "1M", "--json"],
        env={**os.environ, "TOOLBOX_UPLOADER_HOME": str(app_home)}, input=data,
        capture_output=True, timeout=60)
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.decode().splitlines()[-1])
    assert summary["size"] == len(data)
    # About 6 s; unlimited, the whole command takes about 2 s here.
    assert took >= 5, f"6 MiB at 1 MiB/s took {took:.2f} s"
