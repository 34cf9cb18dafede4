"""A file that is briefly not there (a USB stick pulled out, a folder renamed) keeps its
half-finished upload: once it is back, a retry carries on instead of starting over."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import httpx
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


def _sending(make_engine: Callable[..., Engine], server: ServerHandle, path: Path,
             at_least: int) -> Engine:
    """An engine sending ``path`` at 6 MiB/s, ``at_least`` bytes into it."""
    engine = make_engine(server_url=server.url, token=server.token, bandwidth_limit=6 * MIB)
    engine.add_paths([path], category="temporary")
    wait_for(lambda: item(engine, path.name), 10)
    wait_for(lambda: queued(engine, path.name).bytes_sent >= at_least, 20,
             describe=engine.snapshot)
    return engine


@pytest.mark.parametrize("when", ["uploading", "paused"])
def test_a_file_on_an_unplugged_drive_resumes_once_it_is_back(
        live_server: ServerHandle, tmp_path: Path, make_engine, when: str) -> None:
    drive = tmp_path / "usb"
    path = random_file(drive / "lesson.bin", 30 * MIB)
    # Past the first whole chunk (1 MiB): a chunk cut midway is not kept (its checksum).
    engine = _sending(make_engine, live_server, path, 9 * MIB)
    item_id = queued(engine, "lesson.bin").id
    if when == "paused":
        engine.pause([item_id])
        wait_for(lambda: queued(engine, "lesson.bin").state is S.PAUSED, 10)
    os.rename(drive, tmp_path / "unplugged")
    if when == "paused":
        engine.resume([item_id])
    wait_for(lambda: queued(engine, "lesson.bin").state is S.FAILED, 20,
             describe=engine.snapshot)
    missing = queued(engine, "lesson.bin")
    assert missing.reason is not None and missing.reason.code == "source_missing"
    assert "edited" not in missing.reason.message and missing.retryable
    assert missing.upload_url is not None  # the part on the server is kept

    os.rename(tmp_path / "unplugged", drive)
    engine.retry([item_id])
    resumed = wait_for(lambda: queued(engine, "lesson.bin").resumed_from, 20,
                       describe=engine.snapshot)
    assert resumed >= MIB  # carried on from the server's offset, nothing sent twice
    engine.update_config(bandwidth_limit=None)
    wait_for(lambda: queued(engine, "lesson.bin").state is S.DONE, 30,
             describe=engine.snapshot)
    done = queued(engine, "lesson.bin")
    assert done.upload_url == missing.upload_url
    (stored,) = server_files(live_server.url, live_server.token)
    assert stored["sha256"] == sha256(path)


def test_a_file_gone_for_good_can_still_be_removed_and_its_part_is_deleted(
        live_server: ServerHandle, tmp_path: Path, make_engine) -> None:
    path = random_file(tmp_path / "clip.bin", 24 * MIB)
    engine = _sending(make_engine, live_server, path, 2 * MIB)
    path.unlink()
    wait_for(lambda: queued(engine, "clip.bin").state is S.FAILED, 20,
             describe=engine.snapshot)
    url = queued(engine, "clip.bin").upload_url
    assert url is not None
    engine.remove([queued(engine, "clip.bin").id])
    def gone() -> bool:
        answer = httpx.head(url, headers={"Tus-Resumable": "1.0.0",
                                          "Authorization": f"Bearer {live_server.token}"})
        return answer.status_code in (404, 410)

    wait_for(gone, 15)
