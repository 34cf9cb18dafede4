"""Commands that arrive at awkward moments: while a request winds down, mid-creation, or a
category change after bytes have gone. The real engine against the real server."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import httpx
import pytest

from tests.engine.engine_support import (
    free_port,
    item,
    queued,
    random_file,
    server_files,
    sha256,
    text_file,
    wait_for,
)
from toolbox_uploader.core.engine import Engine
from toolbox_uploader.core.events import BatchProgress, EngineEvent
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import ServerHandle

S = ItemState
MIB = 1024 * 1024


def _sending(engine: Engine, name: str, at_least: int) -> bool:
    snap = item(engine, name)
    return bool(snap and snap.state is S.UPLOADING and snap.bytes_sent >= at_least)


def _sending_slowly(make_engine, server: ServerHandle, path: Path) -> Engine:
    """An engine sending ``path`` at 6 MiB/s, caught once a MiB has gone."""
    engine = make_engine(server_url=server.url, token=server.token, bandwidth_limit=6 * MIB)
    engine.add_paths([path], category="temporary")
    wait_for(lambda: _sending(engine, path.name, MIB), 20, describe=engine.snapshot)
    return engine


def _gone(server: ServerHandle, url: str) -> bool:
    headers = {"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {server.token}"}
    return httpx.head(url, headers=headers).status_code in (404, 410)


@pytest.mark.parametrize(("first", "then", "ends"), [
    ("pause", "resume", S.DONE),      # a double click on the pause/resume button
    ("pause", "cancel", S.CANCELLED),
    ("cancel", "retry", S.DONE),
])
def test_the_last_command_wins_while_a_request_winds_down(
        live_server: ServerHandle, tmp_path: Path, make_engine, first: str, then: str,
        ends: ItemState) -> None:
    path = random_file(tmp_path / "clip.bin", 12 * MIB)
    engine = _sending_slowly(make_engine, live_server, path)
    snap = queued(engine, "clip.bin")
    assert snap.upload_url
    getattr(engine, first)([snap.id])
    getattr(engine, then)([snap.id])  # before the cut request has wound down
    wait_for(lambda: queued(engine, "clip.bin").state is ends, 40, describe=engine.snapshot)
    stored = server_files(live_server.url, live_server.token)
    if ends is S.DONE:
        assert [f["sha256"] for f in stored] == [sha256(path)]
    else:
        assert stored == []
        wait_for(lambda: _gone(live_server, snap.upload_url), 10)  # type: ignore[arg-type]


@pytest.mark.parametrize("command", ["pause", "cancel", "remove"])
def test_a_small_file_in_its_one_request_stops_at_once(
        live_server: ServerHandle, tmp_path: Path, make_engine, command: str) -> None:
    # Under 10 MB the whole file goes with the creation request: 3 MB at 1 MB/s.
    path = random_file(tmp_path / "notes.bin", 3_000_000)
    engine = make_engine(server_url=live_server.url, token=live_server.token,
                         bandwidth_limit=1_000_000)
    engine.add_paths([path], category="temporary")
    wait_for(lambda: _sending(engine, "notes.bin", 500_000), 20, describe=engine.snapshot)
    item_id = queued(engine, "notes.bin").id
    getattr(engine, command)([item_id])
    expected = {"pause": S.PAUSED, "cancel": S.CANCELLED, "remove": None}[command]
    # Well before the 2 s the rest of the body would take.

    def stopped() -> bool:
        snap = item(engine, "notes.bin")
        return snap is None if expected is None else snap is not None and snap.state is expected

    wait_for(stopped, 1.5, describe=engine.snapshot)
    if command == "pause":
        engine.resume([item_id])
        wait_for(lambda: queued(engine, "notes.bin").state is S.DONE, 30)
        assert [f["sha256"] for f in server_files(live_server.url, live_server.token)] == [
            sha256(path)]
    else:
        other = text_file(tmp_path / "after.txt", 2000)  # sent after the cut request's time
        engine.add_paths([other], category="temporary")
        wait_for(lambda: (s := item(engine, "after.txt")) is not None and s.state is S.DONE,
                 30)
        assert [f["relative_path"] for f in server_files(live_server.url,
                                                         live_server.token)] == ["after.txt"]


def test_a_new_category_after_bytes_went_starts_the_upload_over_under_its_rules(
        live_server: ServerHandle, tmp_path: Path, make_engine) -> None:
    path = text_file(tmp_path / "reader.txt", 12 * MIB)
    engine = _sending_slowly(make_engine, live_server, path)
    first = queued(engine, "reader.txt")
    engine.pause([first.id])
    wait_for(lambda: queued(engine, "reader.txt").state is S.PAUSED, 10)
    engine.set_category(first.id, "avatar")  # text is no profile picture: checked again
    engine.resume([first.id])
    wait_for(lambda: queued(engine, "reader.txt").state is S.REJECTED, 20,
             describe=engine.snapshot)
    assert first.upload_url is not None
    wait_for(lambda: _gone(live_server, first.upload_url), 10)  # type: ignore[arg-type]
    # Changed while uploading: the request is wound down and sent anew under the new one.
    engine.set_category(first.id, "temporary")
    wait_for(lambda: _sending(engine, "reader.txt", MIB), 20, describe=engine.snapshot)
    engine.set_category(first.id, "educational_content")
    wait_for(lambda: queued(engine, "reader.txt").state is S.DONE, 40, describe=engine.snapshot)
    (stored,) = server_files(live_server.url, live_server.token)
    assert stored["category"] == "educational_content"
    assert stored["sha256"] == sha256(path)
    assert queued(engine, "reader.txt").category == "educational_content"


@pytest.mark.parametrize(("category", "ends"), [
    ("report", S.DONE),         # sent anew under the new category, in the same run
    ("assessment", S.REJECTED),  # 30 MB: over what a test or quiz may be (25 MB)
])
def test_an_interrupted_upload_added_again_under_another_category_is_settled(
        live_server: ServerHandle, tmp_path: Path, make_engine, category: str,
        ends: ItemState) -> None:
    # As ``upload DIR --category C`` run again after Ctrl+C: the engine restores the upload
    # and resumes it, then the drop asks for another category while that request runs.
    # ``wait_idle`` (what the command waits on) must not end in the pause in between.
    path = text_file(tmp_path / "unit" / "plan.txt", 30_000_000)
    first = _sending_slowly(make_engine, live_server, path)
    first.stop()
    again = make_engine(server_url=live_server.url, token=live_server.token)
    again.add_paths([tmp_path / "unit"], category=category, recategorize=True)
    assert again.wait_idle(60)
    settled = queued(again, "plan.txt")
    assert (settled.state, settled.category) == (ends, category), settled
    if ends is S.DONE:
        (stored,) = server_files(live_server.url, live_server.token)
        assert (stored["category"], stored["sha256"]) == (category, sha256(path))
    else:
        assert settled.reason is not None and settled.reason.code == "too_large"


def test_a_folder_dropped_again_under_another_category_leaves_rows_on_their_way(
        live_server: ServerHandle, tmp_path: Path, make_engine) -> None:
    """The app's drop zone names the category for *new* files: a recording sent as media
    keeps its category and its upload when the folder comes again to add one worksheet,
    while a video that category refused is tried under the new one."""
    folder = tmp_path / "Week 3"
    recording = text_file(folder / "recording.txt", 30_000_000)
    engine = _sending_slowly(make_engine, live_server, recording)
    (sent,) = [s for s in engine.snapshot() if s.display_name == "recording.txt"]
    text_file(folder / "new sheet.txt", 3000, seed=5)
    engine.add_paths([folder], category="avatar")  # refuses text: would throw it all away
    wait_for(lambda: (s := item(engine, "new sheet.txt")) and s.state is S.REJECTED, 20,
             describe=engine.snapshot)
    now = queued(engine, "recording.txt")
    assert (now.category, now.state) == ("temporary", S.UPLOADING), now
    assert now.bytes_sent >= sent.bytes_sent and now.upload_url == sent.upload_url

    engine.add_paths([folder / "new sheet.txt"], category="temporary")  # refused: re-checked
    wait_for(lambda: (s := item(engine, "new sheet.txt")) and s.state is S.DONE, 20,
             describe=engine.snapshot)
    assert queued(engine, "new sheet.txt").category == "temporary"


def _twins(folder: Path) -> tuple[Path, Path]:
    """``a/plan.txt`` and ``b/plan.txt``, the same worksheet in two folders."""
    plan = text_file(folder / "a" / "plan.txt", 50_000)
    twin = folder / "b" / "plan.txt"
    twin.parent.mkdir()
    shutil.copy(plan, twin)
    return plan, twin


def test_the_same_file_twice_in_one_drop_is_sent_once(
        live_server: ServerHandle, tmp_path: Path, make_engine) -> None:
    plan, twin = _twins(tmp_path)
    engine = make_engine(server_url=live_server.url, token=live_server.token)
    engine.add_paths([plan, twin])
    assert engine.wait_idle(20)
    snaps = engine.snapshot()
    assert [s.state for s in snaps] == [S.DONE, S.DONE]
    assert sorted((s.reason.code if s.reason else "") for s in snaps) == ["",
                                                                          "already_uploaded"]
    assert len(server_files(live_server.url, live_server.token)) == 1


def test_the_same_content_in_another_category_is_another_file(
        live_server: ServerHandle, tmp_path: Path, make_engine) -> None:
    plan, copy = _twins(tmp_path)
    engine = make_engine(server_url=live_server.url, token=live_server.token)
    engine.add_paths([plan], category="temporary")
    assert engine.wait_idle(20)
    engine.add_paths([copy], category="report")
    assert engine.wait_idle(20)
    stored = server_files(live_server.url, live_server.token)
    assert sorted(f["category"] for f in stored) == ["report", "temporary"]


def test_a_file_deleted_while_sent_is_not_called_edited(
        live_server: ServerHandle, tmp_path: Path, make_engine) -> None:
    path = random_file(tmp_path / "clip.bin", 12 * MIB)
    engine = _sending_slowly(make_engine, live_server, path)
    path.unlink()
    wait_for(lambda: queued(engine, "clip.bin").state in (S.FAILED, S.REJECTED), 20,
             describe=engine.snapshot)
    snap = queued(engine, "clip.bin")
    notes = [w.message for w in snap.warnings]
    assert snap.reason is not None and snap.reason.code == "source_missing", snap.reason
    assert not any("edited" in n for n in [*notes, snap.reason.message]), notes


def test_waiting_for_the_network_is_not_counted_as_failed(tmp_path: Path,
                                                          make_engine) -> None:
    path = text_file(tmp_path / "late.txt", 4000)
    engine = make_engine(server_url=f"http://127.0.0.1:{free_port()}", server_key="local")
    seen: list[BatchProgress] = []
    lock = threading.Lock()

    def listen(batch: list[EngineEvent]) -> None:
        with lock:
            seen.extend(e for e in batch if isinstance(e, BatchProgress))

    engine.subscribe(listen)
    engine.add_paths([path])
    wait_for(lambda: (s := item(engine, "late.txt")) is not None and s.state is S.FAILED
             and s.next_attempt_at is not None, 20)

    def latest() -> BatchProgress | None:
        with lock:
            return seen[-1] if seen else None

    wait_for(lambda: (b := latest()) is not None and b.files_total == 1, 5)
    batch = latest()
    assert batch is not None
    assert (batch.files_failed, batch.bytes_total, batch.eta) == (0, 4000, None), batch
