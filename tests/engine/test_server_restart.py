"""The server process dies mid-upload and comes back on the same port: the upload completes,
and "cannot be reached" goes as soon as bytes flow again."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.engine.engine_support import (
    free_port,
    item,
    random_file,
    serve_subprocess,
    server_files,
    sha256,
    wait_for,
)
from toolbox_uploader.core.engine import Engine, EngineConfig
from toolbox_uploader.core.events import EngineEvent, ServerStatus
from toolbox_uploader.core.states import ItemState


def _stop(engine: Engine, *processes: subprocess.Popen[str] | None) -> None:
    engine.stop()
    for process in processes:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
        if process is not None and process.stdout is not None:
            process.stdout.close()


@pytest.mark.slow
def test_server_killed_and_restarted_mid_upload(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "server"
    source = random_file(tmp_path / "assembly.bin", 40 * 1024 * 1024)
    proc, url, token = serve_subprocess(port, data_dir)
    engine = Engine(EngineConfig(store_path=tmp_path / "queue.sqlite3", server_url=url,
                                 token=token, bandwidth_limit=20 * 1024 * 1024,
                                 max_chunk_size=4 * 1024 * 1024))
    engine.start()
    restarted = None
    try:
        engine.add_paths([source], category="temporary")
        wait_for(lambda: (s := item(engine, "assembly.bin")) and s.state is ItemState.UPLOADING
                 and s.bytes_sent > 10 * 1024 * 1024, 30)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        # The engine notices and waits for the network to come back.
        wait_for(lambda: (s := item(engine, "assembly.bin")) and s.state is ItemState.FAILED
                 and s.next_attempt_at is not None, 30)
        restarted, url2, token2 = serve_subprocess(port, data_dir)
        assert (url2, token2) == (url, token)
        wait_for(lambda: (s := item(engine, "assembly.bin")) and s.state is ItemState.DONE, 60)
        stored = server_files(url, token)
        assert [f["sha256"] for f in stored] == [sha256(source)]
    finally:
        _stop(engine, proc, restarted)


@pytest.mark.slow
def test_connected_again_with_the_first_bytes_after_a_restart(tmp_path: Path) -> None:
    """Not only once a whole file is done: a 30 MB file kept the notice up for 30 s."""
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
        _stop(engine, proc, restarted)
