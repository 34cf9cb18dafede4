"""A small file on a slow link: ``kill -9`` halfway, and the next run carries on.

Below 10 MB a file goes whole with its creation, and the upload's address comes only with
the answer: cut off before it, the next run knows no upload to resume and sends it all
again. When the request would take more than ``SLOW_REQUEST_SECONDS`` (here the bandwidth
limit says so) the file is created first, so a kill costs at most the chunk in flight.
The proxy (no faults) counts the body bytes that reach the server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.engine.engine_support import random_file, server_files, sha256, wait_for
from tests.support.fault_proxy import ThreadedFaultProxy
from toolbox_uploader.server.embedded import ServerHandle

SIZE = 6 * 1000 * 1000  # "direct": under 10 MB, but 6 s at the limit below
CHUNK = 1024 * 1024


def test_a_slow_small_file_resumes_after_kill9(live_server: ServerHandle, tmp_path: Path,
                                               app_home: Path) -> None:
    source = random_file(tmp_path / "slides.bin", SIZE)
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(app_home)}
    host, port = live_server.url.rsplit("//", 1)[1].split(":")
    with ThreadedFaultProxy(host, int(port)) as proxy:
        command = [sys.executable, "-m", "toolbox_uploader", "upload", str(source),
                   "--server", proxy.url, f"--token={live_server.token}",
                   "--category", "temporary", "--json",
                   "--bandwidth-limit", "1M", "--max-chunk-size", "1M"]
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: proxy.stats.body_bytes > 2 * CHUNK + CHUNK // 2
                     or proc.poll() is not None, 30, interval=0.01)
            assert proc.poll() is None, "the upload ended before it could be killed"
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait(10)
        before = proxy.stats.body_bytes
        final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert final.returncode == 0, final.stdout[-2000:] + final.stderr[-2000:]
        again = proxy.stats.body_bytes - before
    # The second run sent what was left, plus at most the chunk the kill cut.
    assert again <= SIZE - before + CHUNK, (again, before)
    (stored,) = server_files(live_server.url, live_server.token)
    assert stored["sha256"] == sha256(source) and stored["size"] == SIZE
