"""``kill -9`` the ``upload`` command at random moments of a 200 MB upload, then finish it.

The server runs in the test process (it survives every kill); the command talks to it
through the fault proxy with faults switched off, used here as a byte counter: it adds up
the request-body bytes it forwards to the server.

How "re-sent bytes" are measured: before run k the server's offset is O(k-1) (HEAD);
after run k is killed it is O(k). The bytes the server keeps from run k are O(k) - O(k-1);
everything else the proxy forwarded during run k (``body_bytes`` delta) was sent for
nothing and must be sent again. That waste must not exceed one chunk; the command runs
with ``--max-chunk-size 4M`` so that one chunk is a known 4 MiB.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.engine.engine_support import random_file, server_files, sha256, wait_for
from tests.support.fault_proxy import ThreadedFaultProxy
from toolbox_uploader.core.session_store import SessionStore
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import ServerHandle

CHUNK = 4 * 1024 * 1024
SIZE = 200 * 1024 * 1024
KILLS = 5


def _upload_command(path: Path, server: str, token: str) -> list[str]:
    return [sys.executable, "-m", "toolbox_uploader", "upload", str(path), "--server", server,
            f"--token={token}", "--category", "temporary", "--json",
            "--max-chunk-size", "4M", "--bandwidth-limit", "60M"]


def _server_offset(store_path: Path, server: ServerHandle) -> int:
    store = SessionStore(store_path)
    try:
        records = store.items()
    finally:
        store.close()
    assert len(records) == 1, "the same path must always be the same item"
    record = records[0]
    if not record.upload_path:
        return 0
    response = httpx.head(f"{server.url}/api/v1/storage/tus/{record.upload_path}",
                          headers={"Tus-Resumable": "1.0.0",
                                   "Authorization": f"Bearer {server.token}"}, timeout=10)
    if response.status_code in (404, 410):
        return SIZE if record.state is ItemState.DONE else 0
    return int(response.headers["Upload-Offset"])


@pytest.mark.slow
def test_kill9_at_random_moments_then_resume(live_server: ServerHandle, tmp_path: Path,
                                             app_home: Path) -> None:
    source = random_file(tmp_path / "lesson-video.bin", SIZE)
    expected = sha256(source)
    store_path = app_home / "data" / "sessions.sqlite3"
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(app_home)}
    rng = random.Random(20261124)
    host, port = live_server.url.rsplit("//", 1)[1].split(":")
    with ThreadedFaultProxy(host, int(port)) as proxy:
        command = _upload_command(source, proxy.url, live_server.token)
        offset_before = 0
        kills = 0
        wasted: list[int] = []
        started = time.monotonic()
        while kills < KILLS and time.monotonic() - started < 90:
            body_before = proxy.stats.body_bytes
            proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, text=True)
            assert proc.stdout is not None
            # Wait until this run sends bytes (or finishes), then kill at a random moment.
            wait_for(lambda b=body_before, p=proc: proxy.stats.body_bytes > b
                     or p.poll() is not None, 30, interval=0.01)
            time.sleep(rng.uniform(0.0, 0.8))
            if proc.poll() is not None:
                break  # it finished before the kill: nothing left to interrupt
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            proc.stdout.close()
            kills += 1
            offset_after = _server_offset(store_path, live_server)
            sent = proxy.stats.body_bytes - body_before
            kept = offset_after - offset_before
            assert kept >= 0, "the server never loses confirmed bytes"
            wasted.append(sent - kept)
            offset_before = offset_after
        assert kills >= KILLS, f"only {kills} kills landed; the upload was too fast"
        assert all(w <= CHUNK for w in wasted), f"re-sent bytes per kill: {wasted}"
        assert offset_before > 0  # the kills did land mid-upload
        # The final run finishes the job; same command, same item.
        body_before = proxy.stats.body_bytes
        final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert final.returncode == 0, final.stdout[-2000:] + final.stderr[-2000:]
        assert proxy.stats.body_bytes - body_before <= SIZE - offset_before + CHUNK
    stored = server_files(live_server.url, live_server.token)
    assert len(stored) == 1
    assert stored[0]["sha256"] == expected and stored[0]["size"] == SIZE
    store = SessionStore(store_path)
    try:
        assert [r.state for r in store.items()] == [ItemState.DONE]
    finally:
        store.close()
