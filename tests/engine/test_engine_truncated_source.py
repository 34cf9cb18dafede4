"""A file cut short while it is sent is the teacher's change, not the server's fault: it
starts over with one "changed" warning, and does not use up the one start-over that a
server losing the upload (404/410, a hash mismatch) is allowed. It used to be counted as
such a restart, so the next real one failed the file ("Failed again after starting over")."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tests.engine.engine_support import item, random_file, server_files, sha256, wait_for
from toolbox_uploader.core.engine import Engine
from toolbox_uploader.core.states import ItemState

MIB = 1024 * 1024


def test_a_file_truncated_mid_upload_starts_over_without_using_the_restart(
        live_server, tmp_path: Path, make_engine: Callable[..., Engine]) -> None:
    path = random_file(tmp_path / "lesson.bin", 30 * MIB)
    engine = make_engine(server_url=live_server.url, token=live_server.token,
                         bandwidth_limit=6 * MIB)
    engine.add_paths([path], category="temporary")
    wait_for(lambda: (snap := item(engine, "lesson.bin")) and snap.bytes_sent >= 2 * MIB, 20,
             describe=engine.snapshot)
    os.truncate(path, 5 * MIB)
    engine.update_config(bandwidth_limit=None)
    done = wait_for(lambda: (snap := item(engine, "lesson.bin"))
                    and snap.state is ItemState.DONE and snap, 30, describe=engine.snapshot)
    codes = [w.code for w in done.warnings]
    assert codes == ["source_changed"], done.warnings
    assert engine.store.get(done.id).restarts == 0  # type: ignore[union-attr]
    (stored,) = server_files(live_server.url, live_server.token)
    assert stored["size"] == 5 * MIB and stored["sha256"] == sha256(path)
