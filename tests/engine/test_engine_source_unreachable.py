"""A file whose folder answers with an error instead of "not found" (a network share that
went away: ESTALE, ENOTCONN, EIO; a folder replaced by a file: ENOTDIR; a link loop) is as
gone as one on an unplugged drive: "put it back and retry", its part kept on the server,
and the upload carries on once it is back. It used to kill the source watcher silently
(the upload went on from the open descriptor) and then fail for good with "Reading the
file failed", not retryable."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.engine.engine_support import (
    item,
    queued,
    random_file,
    server_files,
    sha256,
    wait_for,
)
from toolbox_uploader.core.engine import Engine
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import ServerHandle

S = ItemState
MIB = 1024 * 1024


def _break(drive: Path, how: str) -> None:
    """Make every path below ``drive`` fail with something other than ENOENT."""
    if how == "file_in_place":  # ENOTDIR
        drive.write_bytes(b"not a folder")
    else:  # a link to itself: ELOOP
        drive.symlink_to(drive)


@pytest.mark.parametrize("how", ["file_in_place", "link_loop"])
def test_a_file_on_a_broken_share_fails_retryably_and_resumes_once_it_is_back(
        live_server: ServerHandle, tmp_path: Path, make_engine: Callable[..., Engine],
        how: str) -> None:
    drive = tmp_path / "share"
    path = random_file(drive / "lesson.bin", 30 * MIB)
    engine = make_engine(server_url=live_server.url, token=live_server.token,
                         bandwidth_limit=6 * MIB)
    engine.add_paths([path], category="temporary")
    wait_for(lambda: item(engine, "lesson.bin"), 10)
    # Past the first whole chunk (1 MiB): a chunk cut midway is not kept (its checksum).
    wait_for(lambda: queued(engine, "lesson.bin").bytes_sent >= 9 * MIB, 20,
             describe=engine.snapshot)
    item_id = queued(engine, "lesson.bin").id
    away = tmp_path / "away"
    os.rename(drive, away)
    _break(drive, how)
    wait_for(lambda: queued(engine, "lesson.bin").state is S.FAILED, 20,
             describe=engine.snapshot)
    broken = queued(engine, "lesson.bin")
    assert broken.reason is not None and broken.reason.code == "source_missing", broken.reason
    assert broken.retryable and broken.upload_url is not None
    assert broken.bytes_sent < 30 * MIB  # stopped, not sent to the end from the old file

    drive.unlink()
    os.rename(away, drive)
    engine.retry([item_id])
    resumed = wait_for(lambda: queued(engine, "lesson.bin").resumed_from, 20,
                       describe=engine.snapshot)
    assert resumed >= MIB  # carried on from the server's offset
    engine.update_config(bandwidth_limit=None)
    wait_for(lambda: queued(engine, "lesson.bin").state is S.DONE, 30,
             describe=engine.snapshot)
    assert queued(engine, "lesson.bin").upload_url == broken.upload_url
    (stored,) = server_files(live_server.url, live_server.token)
    assert stored["sha256"] == sha256(path)
