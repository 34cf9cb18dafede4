"""A folder dropped just before the app quits is queued, not lost.

Reading a big folder (or one on a network share) takes a while, on a worker thread. The
app's ``stop(drops_grace=…)`` waits for it, so the files are in the queue at the next start;
a command, which is run again with its paths, does not wait."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from toolbox_uploader.core.engine import Engine, EngineConfig

FILES = 4000


def _big_folder(root: Path) -> Path:
    folder = root / "Year 9 resources"
    for n in range(FILES):
        sub = folder / f"unit{n % 20:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"sheet{n:04d}.txt").write_bytes(b"Homework %d\n" % n)
    return folder


def _queued(store: Path) -> int:
    with Engine(EngineConfig(store_path=store, auto_resume=False)) as engine:
        return len(engine.snapshot())


def test_a_folder_still_being_read_is_queued_before_the_engine_stops(tmp_path: Path) -> None:
    folder = _big_folder(tmp_path)
    store = tmp_path / "queue.sqlite3"
    engine = Engine(EngineConfig(store_path=store, server_url="http://127.0.0.1:9",
                                 token="class-7b", auto_resume=False))
    engine.start()
    engine.add_paths([folder], category="educational_content")
    started = time.monotonic()
    engine.stop(drops_grace=10)  # at once: the folder is still being read
    assert time.monotonic() - started < 10
    assert _queued(store) == FILES


def test_without_a_grace_an_unread_drop_is_said_in_the_log(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = _big_folder(tmp_path)
    store = tmp_path / "queue.sqlite3"
    engine = Engine(EngineConfig(store_path=store, server_url="http://127.0.0.1:9",
                                 token="class-7b", auto_resume=False))
    engine.start()
    with caplog.at_level(logging.WARNING, logger="toolbox_uploader.core.engine"):
        engine.add_paths([folder], category="educational_content")
        engine.stop()
    queued = _queued(store)
    if queued < FILES:  # the reading had not ended: never silently
        assert "still being read when the queue stopped" in caplog.text
        assert queued == 0


def test_a_drop_not_yet_read_at_stop_leaves_no_error_in_the_log(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A drop still waiting for a worker when the engine stops is given up (said once, as
    above), not an "Exception in callback … CancelledError" traceback in the app's log."""
    folder = _big_folder(tmp_path)
    store = tmp_path / "queue.sqlite3"
    engine = Engine(EngineConfig(store_path=store, server_url="http://127.0.0.1:9",
                                 token="class-7b", auto_resume=False, prepare_workers=1))
    engine.start()
    with caplog.at_level(logging.WARNING):
        engine.add_paths([folder], category="educational_content")
        engine.add_paths([tmp_path / "Year 9 resources" / "unit00"])  # waits for the one worker
        engine.stop()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    assert "still being read when the queue stopped" in caplog.text
