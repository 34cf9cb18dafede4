"""``queue list`` beside a running upload (live, read-only) and after one was killed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cli.upload_in_progress import (
    MIB,
    SIZE,
    cli,
    env,
    partials,
    queue_rows,
    recording,
    start_slow_upload,
    upload_args,
    wait_for_partial,
)
from tests.engine.engine_support import server_files
from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.embedded import ServerHandle


@pytest.mark.slow
def test_watch_an_upload_then_see_it_interrupted_by_kill_9(
        live_server: ServerHandle, server_config: ServerConfig, tmp_path: Path,
        app_home: Path) -> None:
    path = tmp_path / "lecture.bin"
    path.write_bytes(recording(SIZE))
    proc = start_slow_upload(path, live_server, app_home)
    try:
        wait_for_partial(proc, server_config, 2 * MIB)
        (row,) = queue_rows(app_home)  # from another terminal, while it runs
        assert row["live"] is True and row["state"] == "uploading", row
        assert not row["interrupted"]
        table = subprocess.run(cli("queue", "list"), env=env(app_home), capture_output=True,
                               text=True, timeout=60)
        assert table.returncode == 0, table.stderr
        assert table.stdout.startswith("Live: another ToolBox Uploader")
        proc.kill()  # kill -9: nothing gets saved
        proc.communicate(timeout=30)
    finally:
        proc.kill()
    (row,) = queue_rows(app_home)
    assert row["state"] == "uploading" and row["interrupted"] is True, row  # as stored
    assert row["live"] is False
    table = subprocess.run(cli("queue", "list"), env={**env(app_home), "COLUMNS": "200"},
                           capture_output=True, text=True, timeout=60)
    assert "interrupted" in table.stdout and "resumes on the next run" in table.stdout
    assert queue_rows(app_home)[0]["state"] == "uploading"  # listing wrote nothing

    ((upload, _kept),) = partials(server_config).items()
    again = subprocess.run(upload_args(path, live_server), env=env(app_home),
                           capture_output=True, timeout=60)
    assert again.returncode == 0, again.stderr
    (stored,) = server_files(live_server.url, live_server.token)
    assert stored["id"] == upload  # the next run resumed it
    (row,) = queue_rows(app_home)
    assert row["state"] == "done" and not row["interrupted"]
