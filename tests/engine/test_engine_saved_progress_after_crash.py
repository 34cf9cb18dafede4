"""After a crash, a half-sent file's row shows what the server holds, not more.

Progress is saved about once a second while a chunk is on its way; the chunk's bytes that
left are not on the server until it answers (a cut chunk is sent again whole). The saved
count used to be those bytes, so after a ``kill -9`` the row showed more than the server
had, and fell back once HEAD told the truth. Now only what the server confirmed is saved.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.engine.engine_support import queued, random_file, wait_for
from toolbox_uploader.core.engine import Engine
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import ServerHandle

S = ItemState
MIB = 1024 * 1024

#: An engine uploading one file at 1 MiB/s, printing the row's bytes until it is killed.
CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from toolbox_uploader.core.engine import Engine, EngineConfig
    store, url, token, path = sys.argv[1:5]
    engine = Engine(EngineConfig(store_path=Path(store), server_url=url, token=token,
                                 bandwidth_limit=1024 * 1024))
    engine.start()
    engine.add_paths([Path(path)], category="temporary")
    for _ in range(2000):
        rows = engine.snapshot()
        print(rows[0].bytes_sent if rows else -1, flush=True)
        time.sleep(0.01)
""")


def test_a_row_after_a_crash_shows_the_bytes_the_server_confirmed(
        make_engine: Callable[..., Engine], live_server: ServerHandle, tmp_path: Path) -> None:
    video = random_file(tmp_path / "video.bin", 6 * MIB)
    store = tmp_path / "queue.sqlite3"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(store), live_server.url, live_server.token,
         str(video)], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2])
    try:
        assert child.stdout is not None
        # Chunks of about 1 s at the limit: the third is on its way at 2.6 MiB, and
        # progress was saved in it at least once.
        for line in child.stdout:
            if int(line) > 2.6 * MIB:
                break
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)

    engine = make_engine(store_path=store, server_url=live_server.url,
                         token=live_server.token, only_added=True)  # the row waits as it is
    row = wait_for(lambda: engine.snapshot() and queued(engine, "video.bin"), 5)
    assert row.state is S.READY and row.upload_url is not None
    response = httpx.head(row.upload_url, headers={
        "Tus-Resumable": "1.0.0", "Authorization": f"Bearer {live_server.token}"}, timeout=10)
    held = int(response.headers["Upload-Offset"])
    assert 0 < held < 2.5 * MIB  # the cut chunk was not kept: the case at hand
    assert row.bytes_sent == held, (row.bytes_sent, held)
