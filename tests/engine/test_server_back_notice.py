"""The server comes back mid-file: "cannot be reached" goes as soon as bytes flow again,
not only once a whole file is done (a 30 MB file kept the notice up for 30 s)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.engine.engine_support import (
    free_port,
    item,
    random_file,
    serve_subprocess,
    wait_for,
)
from toolbox_uploader.core.engine import Engine, EngineConfig
from toolbox_uploader.core.events import EngineEvent, ServerStatus
from toolbox_uploader.core.states import ItemState


@pytest.mark.slow
def test_connected_again_with_the_first_bytes_after_a_restart(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "server"
    source = random_file(tmp_path / "assembly.bin", 16 * 1024 * 1024)
    proc, url, token = serve_subprocess(port, data_dir)
    engine = Engine(EngineConfig(store_path=tmp_path / "queue.sqlite3", server_url=url,
                                 token=token, bandwidth_limit=2 * 1024 * 1024,
                                 max_chunk_size=1024 * 1024))
    statuses: list[ServerStatus] = []

    def listen(batch: list[EngineEvent]) -> None:
        statuses.extend(e for e in batch if isinstance(e, ServerStatus))

    engine.start()
    engine.subscribe(listen)
    restarted = None
    try:
        engine.add_paths([source], category="temporary")
        wait_for(lambda: (s := item(engine, "assembly.bin")) and s.state is ItemState.UPLOADING
                 and s.bytes_sent > 2 * 1024 * 1024, 30)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        wait_for(lambda: statuses and not statuses[-1].reachable, 30)
        restarted, _url, _token = serve_subprocess(port, data_dir)
        wait_for(lambda: statuses[-1].reachable, 30)
        snap = item(engine, "assembly.bin")
        # About 12 MB were still to go at 2 MiB/s: the notice went with the first bytes.
        assert snap is not None and snap.state is not ItemState.DONE, snap
        deadline = time.monotonic() + 60
        while (s := item(engine, "assembly.bin")) is None or s.state is not ItemState.DONE:
            assert time.monotonic() < deadline, s
            time.sleep(0.1)
    finally:
        engine.stop()
        for process in (proc, restarted):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(30)
            if process is not None and process.stdout is not None:
                process.stdout.close()
