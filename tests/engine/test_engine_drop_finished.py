"""Every ``add_paths`` ends with one ``DropFinished`` saying where its files went: a drop
that adds no row (an empty folder, only system files, files already queued or sent, a path
gone since) used to leave no trace at all, so the window could not say why."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

import pytest

from tests.engine.engine_support import text_file, wait_for
from toolbox_uploader.core.engine import Engine
from toolbox_uploader.core.events import (
    DropFinished,
    EngineEvent,
    ItemChanged,
    ItemsAdded,
    ItemSnapshot,
)
from toolbox_uploader.core.progress import EventCoalescer
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import ServerHandle


class Heard:
    """Every event batch an engine delivers, kept in order (filled on the engine thread)."""

    def __init__(self, engine: Engine) -> None:
        self.events: list[EngineEvent] = []
        self._lock = threading.Lock()
        engine.subscribe(self._on_batch)

    def _on_batch(self, batch: list[EngineEvent]) -> None:
        with self._lock:
            self.events.extend(batch)

    def drops(self) -> list[DropFinished]:
        with self._lock:
            return [e for e in self.events if isinstance(e, DropFinished)]

    def next_drop(self, engine: Engine, paths: list[Path], timeout: float = 30) -> DropFinished:
        """Drop ``paths`` and wait (bounded) for that drop's own ``DropFinished``."""
        before = len(self.drops())
        engine.add_paths(paths)
        drops = wait_for(lambda: self.drops()[before:], timeout, describe=self.drops)
        assert len(drops) == 1, drops
        return drops[0]


def _counts(drop: DropFinished) -> dict[str, int]:
    return {k: v for k, v in asdict(drop).items() if k not in ("paths", "problem") and v}


@pytest.fixture
def engine(make_engine: Callable[..., Engine], live_server: ServerHandle) -> Engine:
    return make_engine(server_url=live_server.url, token=live_server.token)


def test_an_empty_folder_says_it_added_nothing(engine: Engine, tmp_path: Path) -> None:
    heard = Heard(engine)
    (tmp_path / "Week 3" / "empty sub-folder").mkdir(parents=True)
    drop = heard.next_drop(engine, [tmp_path / "Week 3"])
    assert drop.paths == (str(tmp_path / "Week 3"),)
    assert _counts(drop) == {} and drop.new_work == 0
    assert engine.snapshot() == []


def test_hidden_and_system_files_are_counted_as_skipped(engine: Engine,
                                                        tmp_path: Path) -> None:
    heard = Heard(engine)
    folder = tmp_path / "Week 3"
    for name in (".DS_Store", "Thumbs.db", "desktop.ini", "._plan.txt", "~$plan.docx"):
        text_file(folder / name, 100)
    text_file(folder / ".git" / "config", 100)  # a hidden folder: one skip, never read
    text_file(folder / "__MACOSX" / "a.txt", 100)
    drop = heard.next_drop(engine, [folder])
    assert _counts(drop) == {"skipped": 7}
    assert engine.snapshot() == []


def test_new_files_and_the_files_beside_them(engine: Engine, tmp_path: Path) -> None:
    heard = Heard(engine)
    folder = tmp_path / "Week 3"
    for n in range(3):
        text_file(folder / f"sheet{n}.txt", 2000, seed=n)
    text_file(folder / ".DS_Store", 10)
    first = heard.next_drop(engine, [folder])
    assert _counts(first) == {"added": 3, "skipped": 1}
    # The drop's rows reach a listener before its outcome does.
    added = [i for i, e in enumerate(heard.events) if isinstance(e, ItemsAdded)]
    assert added and max(added) < heard.events.index(first)
    assert engine.wait_idle(30)
    assert all(s.state is ItemState.DONE for s in engine.snapshot())

    again = heard.next_drop(engine, [folder])  # all sent: nothing new
    assert _counts(again) == {"already_done": 3, "skipped": 1} and again.new_work == 0
    assert engine.wait_idle(30)
    assert len(engine.snapshot()) == 3  # no row added, none sent again

    text_file(folder / "sheet3.txt", 2000, seed=3)
    text_file(folder / "sheet0.txt", 2100, seed=9)  # changed since it was sent: a new row
    mixed = heard.next_drop(engine, [folder, tmp_path / "gone"])
    assert _counts(mixed) == {"added": 2, "already_done": 2, "skipped": 1, "missing": 1}
    assert mixed.problem == "It does not exist (moved or deleted?)."


def test_files_on_their_way_are_already_queued(make_engine: Callable[..., Engine],
                                               tmp_path: Path) -> None:
    """A server that takes the connection and never answers: the uploads hang, and the
    same folder dropped again leaves them as they are."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/files/"
        engine = make_engine(tus_endpoint=url, token="abcdefghijklmnop")
        heard = Heard(engine)
        folder = tmp_path / "Week 3"
        for n in range(2):
            text_file(folder / f"sheet{n}.txt", 2000, seed=n)
        assert _counts(heard.next_drop(engine, [folder])) == {"added": 2}
        wait_for(lambda: all(s.state is ItemState.UPLOADING for s in engine.snapshot()), 20,
                 describe=engine.snapshot)
        again = heard.next_drop(engine, [folder])
        assert _counts(again) == {"already_queued": 2}
        engine.stop()


def test_failed_files_dropped_again_are_picked_up(make_engine: Callable[..., Engine],
                                                  tmp_path: Path) -> None:
    folder = tmp_path / "Week 3"
    text_file(folder / "sheet.txt", 2000)
    engine = make_engine(tus_endpoint="http://127.0.0.1:9/files/", token="abcdefghijklmnop")
    heard = Heard(engine)
    heard.next_drop(engine, [folder])
    wait_for(lambda: all(s.state is ItemState.FAILED for s in engine.snapshot()), 20,
             describe=engine.snapshot)
    assert _counts(heard.next_drop(engine, [folder])) == {"picked_up": 1}


def test_a_folder_and_a_file_in_it_dropped_again_together(
        make_engine: Callable[..., Engine], tmp_path: Path) -> None:
    """The file is named twice in one drop: it is handled once, as the first naming says
    (as a new file is), not moved to the top of the upload by its second naming."""
    folder = tmp_path / "Week 3"
    for n in range(2):
        text_file(folder / f"sheet{n}.txt", 2000, seed=n)
    engine = make_engine(tus_endpoint="http://127.0.0.1:9/files/", token="abcdefghijklmnop")
    heard = Heard(engine)
    assert _counts(heard.next_drop(engine, [folder])) == {"added": 2}
    again = heard.next_drop(engine, [folder, folder / "sheet0.txt"])
    assert sum(_counts(again).values()) == 2, again  # two files, each counted once
    assert sorted(s.relative_path for s in engine.snapshot()) == [
        "Week 3/sheet0.txt", "Week 3/sheet1.txt"]


def test_a_path_gone_since_counts_as_missing_each_time(engine: Engine,
                                                       tmp_path: Path) -> None:
    heard = Heard(engine)
    first = heard.next_drop(engine, [tmp_path / "Week 3"])
    assert _counts(first) == {"missing": 1}  # its refused row says why, as before
    (row,) = engine.snapshot()
    assert row.state is ItemState.REJECTED and row.reason is not None
    assert first.problem == row.reason.message
    again = heard.next_drop(engine, [tmp_path / "Week 3"])  # no new row: still said
    assert _counts(again) == {"missing": 1} and len(engine.snapshot()) == 1


_AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
_PROBE = """
import json, sys, time
from dataclasses import asdict
from pathlib import Path
from toolbox_uploader.core.engine import Engine, EngineConfig
from toolbox_uploader.core.events import DropFinished
base = Path(sys.argv[1])
engine = Engine(EngineConfig(store_path=base / "queue.sqlite3",
                             tus_endpoint="http://127.0.0.1:9/files/"))
engine.start()
drops = []
engine.subscribe(lambda batch: drops.extend(e for e in batch if isinstance(e, DropFinished)))
for n in (1, 2):
    engine.add_paths([base / "Week 3"])
    deadline = time.monotonic() + 30
    while len(drops) < n and time.monotonic() < deadline:
        time.sleep(0.02)
engine.stop()
print(json.dumps([asdict(d) for d in drops]))
"""


@pytest.fixture
def locked_folder() -> Iterator[Path]:
    """``Week 3`` (one file in it) that its owner made unreadable, where anyone can reach."""
    top = Path(tempfile.mkdtemp(prefix="toolbox-drop-"))
    try:
        top.chmod(0o777)
        text_file(top / "Week 3" / "sheet.txt", 100)
        (top / "Week 3").chmod(0)
        yield top / "Week 3"
    finally:
        (top / "Week 3").chmod(0o755)
        shutil.rmtree(top, ignore_errors=True)


def test_a_folder_that_cannot_be_read_says_why_each_time(locked_folder: Path) -> None:
    """Run as another user when the tests run as root (root reads everything)."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv to act as another user")
        prefix = _AS_NOBODY
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(locked_folder.parent / "home"),
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    result = subprocess.run([*prefix, sys.executable, "-c", _PROBE, str(locked_folder.parent)],
                            env=env, capture_output=True, text=True, timeout=60, cwd="/")
    assert result.returncode == 0, result.stderr
    drops = json.loads(result.stdout)
    assert len(drops) == 2, result.stderr
    for drop in drops:
        assert {k: v for k, v in drop.items() if v and k not in ("paths", "problem")} == {
            "unreadable": 1}
        assert drop["problem"] == "You do not have permission to read this folder."


def _snap(item_id: int) -> ItemSnapshot:
    return ItemSnapshot(item_id, f"/s/{item_id}", f"{item_id}", f"{item_id}",
                        "educational_content", 10, ItemState.QUEUED)


def test_the_coalescer_keeps_every_drop_after_its_rows() -> None:
    coalescer = EventCoalescer()
    coalescer.push(ItemsAdded((_snap(1),)))
    coalescer.push(DropFinished(("/a",), added=1))
    coalescer.push(ItemChanged(_snap(1)))
    coalescer.push(DropFinished(("/b",)))  # a second drop: its own line, not merged
    batch = coalescer.drain()
    assert [type(e).__name__ for e in batch] == ["ItemsAdded", "DropFinished", "ItemChanged",
                                                 "DropFinished"]
    assert [e.paths for e in batch if isinstance(e, DropFinished)] == [("/a",), ("/b",)]
