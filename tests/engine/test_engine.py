"""The engine against the real server on loopback, with real SQLite files."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.engine.engine_support import (
    free_port,
    item,
    random_file,
    server_files,
    sha256,
    store_cut_off_mid_send,
    text_file,
    wait_for,
)
from tests.support.fault_proxy import ThreadedFaultProxy
from toolbox_uploader.core.engine import Engine, EngineBusyError, EngineConfig
from toolbox_uploader.core.events import (
    BatchProgress,
    EngineEvent,
    ItemChanged,
    ItemsAdded,
    ServerStatus,
)
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.embedded import EmbeddedServer, ServerHandle

S = ItemState


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[EngineEvent]] = []
        self.lock = threading.Lock()

    def __call__(self, batch: list[EngineEvent]) -> None:
        with self.lock:
            self.batches.append(batch)

    def events(self) -> list[EngineEvent]:
        with self.lock:
            return [e for b in self.batches for e in b]


def test_uploads_a_folder_and_reports_progress(live_server: ServerHandle, tmp_path: Path,
                                               make_engine) -> None:
    folder = tmp_path / "Week 1"
    files = [text_file(folder / f"sheet{n}.txt", 3000 + n * 1000, seed=n) for n in range(5)]
    files.append(text_file(folder / "handouts" / "reading.txt", 40_000, seed=9))
    (folder / ".DS_Store").write_bytes(b"junk")
    engine = make_engine(server_url=live_server.url, token=live_server.token)
    recorder = Recorder()
    engine.subscribe(recorder)
    engine.add_paths([folder])
    assert engine.wait_idle(30)
    snaps = engine.snapshot()
    assert sorted(s.relative_path for s in snaps) == sorted(
        ["Week 1/handouts/reading.txt"] + [f"Week 1/sheet{n}.txt" for n in range(5)])
    assert all(s.state is S.DONE for s in snaps), [(s.state, s.reason) for s in snaps]
    stored = {f["relative_path"]: f for f in server_files(live_server.url, live_server.token)}
    for path in files:
        rel = str(path.relative_to(tmp_path))
        assert stored[rel]["sha256"] == sha256(path)
    wait_for(lambda: any(isinstance(e, BatchProgress) and e.files_done == 6
                         for e in recorder.events()), 5)
    events = recorder.events()
    assert isinstance(recorder.batches[0][0], ItemsAdded)  # first batch: the whole queue
    changed = {e.item.id for e in events if isinstance(e, ItemChanged) and e.item.state is S.DONE}
    assert changed == {s.id for s in snaps}
    final = [e for e in events if isinstance(e, BatchProgress)][-1]
    assert final.bytes_done == final.bytes_total == sum(p.stat().st_size for p in files)


def test_same_paths_again_are_the_same_items_and_duplicates_are_not_sent(
        live_server: ServerHandle, tmp_path: Path, make_engine) -> None:
    first = text_file(tmp_path / "a" / "Unit" / "notes.txt", 5000)
    engine = make_engine(server_url=live_server.url, token=live_server.token)
    engine.add_paths([first.parent])
    assert engine.wait_idle(20)
    engine.add_paths([first.parent])  # the same command again
    assert engine.wait_idle(20)
    assert len(engine.snapshot()) == 1
    # The same file (same content, same relative path) from another place on disk.
    copy = tmp_path / "b" / "Unit" / "notes.txt"
    copy.parent.mkdir(parents=True)
    shutil.copy(first, copy)
    engine.add_paths([copy.parent])
    assert engine.wait_idle(20)
    twin = next(s for s in engine.snapshot() if s.source_path == str(copy))
    assert twin.state is S.DONE
    assert twin.reason is not None and twin.reason.code == "already_uploaded"
    assert len(server_files(live_server.url, live_server.token)) == 1


def test_a_file_named_twice_in_one_drop_is_queued_once(tmp_path: Path, make_engine) -> None:
    """A folder and a file inside it dropped together: one item per file."""
    notes = text_file(tmp_path / "Unit" / "notes.txt", 3000)
    quiz = text_file(tmp_path / "Unit" / "quiz.txt", 3000, seed=1)
    engine = make_engine(server_url="http://127.0.0.1:9", token="t", auto_resume=False)
    later = text_file(tmp_path / "later.txt", 3000, seed=2)
    engine.add_paths([notes.parent, notes, quiz.parent])
    engine.add_paths([quiz])  # and once more on its own: the same item again
    engine.add_paths([later])  # commands run in order: once this is in, so are the others
    wait_for(lambda: any(s.source_path == str(later) for s in engine.snapshot()), 10)
    assert sorted(s.source_path for s in engine.snapshot()) == sorted(
        [str(notes), str(quiz), str(later)])


def test_rejected_files_are_not_sent(live_server: ServerHandle, tmp_path: Path,
                                     make_engine) -> None:
    bad = tmp_path / "tool.exe"
    bad.write_bytes(b"MZ\x90\x00" + b"\x00" * 4000)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    engine = make_engine(server_url=live_server.url, token=live_server.token)
    engine.add_paths([bad, empty])
    assert engine.wait_idle(20)
    for snap in engine.snapshot():
        assert snap.state is S.REJECTED and snap.reason is not None and snap.reason.message
    assert server_files(live_server.url, live_server.token) == []


def test_one_engine_per_store(tmp_path: Path, make_engine) -> None:
    make_engine(server_url="http://127.0.0.1:9")
    second = Engine(EngineConfig(store_path=tmp_path / "queue.sqlite3"))
    with pytest.raises(EngineBusyError):
        second.start()


def test_one_engine_per_store_whatever_its_name(tmp_path: Path, make_engine) -> None:
    """The same queue reached through a symlink is the same queue: one lock for both."""
    make_engine(server_url="http://127.0.0.1:9")  # tmp_path / "queue.sqlite3"
    link = tmp_path / "elsewhere" / "queue-link.sqlite3"
    link.parent.mkdir()
    link.symlink_to(tmp_path / "queue.sqlite3")
    second = Engine(EngineConfig(store_path=link))
    with pytest.raises(EngineBusyError):
        second.start()


def test_fatal_error_is_not_retried(tmp_path: Path, make_engine) -> None:
    config = ServerConfig(data_dir=tmp_path / "srv", port=0, default_quota=2000)
    with EmbeddedServer(config) as server:
        path = text_file(tmp_path / "big.txt", 10_000)
        engine = make_engine(server_url=server.url, token=server.token)
        engine.add_paths([path])
        assert engine.wait_idle(20)
        snap = item(engine, "big.txt")
        assert snap is not None and snap.state is S.FAILED
        assert snap.attempts == 1 and snap.next_attempt_at is None and not snap.retryable
        assert snap.reason is not None and "quota" in snap.reason.message.lower()


def test_sign_in_pauses_the_queue_until_a_token_arrives(live_server: ServerHandle,
                                                        tmp_path: Path, make_engine) -> None:
    path = text_file(tmp_path / "x.txt", 4000)
    engine = make_engine(server_url=live_server.url, token="wrong-token-0000000000")
    recorder = Recorder()
    engine.subscribe(recorder)
    engine.add_paths([path])
    wait_for(lambda: (s := item(engine, "x.txt")) and s.state is S.PAUSED, 20)
    wait_for(lambda: any(isinstance(e, ServerStatus) and e.needs_sign_in
                         for e in recorder.events()), 5)
    assert engine.wait_idle(5)
    engine.set_server(live_server.url, None, live_server.token)
    wait_for(lambda: (s := item(engine, "x.txt")) and s.state is S.DONE, 20)


@pytest.mark.parametrize("token", ["pasted with a space", "tök-0000000000000000",
                                   "line-break-0000000\n"])
def test_a_token_that_cannot_be_sent_asks_for_a_sign_in(
        live_server: ServerHandle, tmp_path: Path, make_engine, token: str) -> None:
    """Not "Unexpected error: UnicodeEncodeError" on every file, for good."""
    path = text_file(tmp_path / "x.txt", 4000)
    engine = make_engine(server_url=live_server.url, token=token)
    recorder = Recorder()
    engine.subscribe(recorder)
    engine.add_paths([path])
    wait_for(lambda: (s := item(engine, "x.txt")) and s.state is S.PAUSED, 20,
             describe=engine.snapshot)
    wait_for(lambda: any(isinstance(e, ServerStatus) and e.needs_sign_in
                         for e in recorder.events()), 5)
    engine.set_server(live_server.url, None, live_server.token)
    wait_for(lambda: (s := item(engine, "x.txt")) and s.state is S.DONE, 20)


def test_a_small_file_is_sent_as_it_was_checked(live_server: ServerHandle, tmp_path: Path,
                                                make_engine) -> None:
    """Validation reads a small file once, and those bytes are the ones sent."""
    engine = make_engine(server_url=live_server.url, token="wrong-token-0000000000")
    engine.add_paths([text_file(tmp_path / "first.txt", 4000)])
    wait_for(lambda: (s := item(engine, "first.txt")) and s.state is S.PAUSED, 20)
    # Uploads wait for a sign-in now; validation goes on.
    path = text_file(tmp_path / "sheet.txt", 50_000, seed=3)
    checked = path.read_bytes()
    engine.add_paths([path])
    wait_for(lambda: (s := item(engine, "sheet.txt")) and s.state is S.READY, 20)
    assert len(engine._bodies) == 1 and engine._bodies.used == len(checked)
    # Same size, same mtime: only the bytes read at validation tell the two apart.
    before = path.stat()
    path.write_bytes(checked.upper())
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))

    engine.set_server(live_server.url, None, live_server.token)
    wait_for(lambda: (s := item(engine, "sheet.txt")) and s.state is S.DONE, 20)
    stored = {f["filename"]: f for f in server_files(live_server.url, live_server.token)}
    assert stored["sheet.txt"]["sha256"] == hashlib.sha256(checked).hexdigest()
    assert len(engine._bodies) == 0 and engine._bodies.used == 0


def test_offline_server_is_retried_until_it_appears(tmp_path: Path, make_engine) -> None:
    port = free_port()
    path = text_file(tmp_path / "late.txt", 4000)
    engine = make_engine(server_url=f"http://127.0.0.1:{port}", server_key="local")
    engine.add_paths([path])

    def waiting() -> bool:
        snap = item(engine, "late.txt")
        return bool(snap and snap.state is S.FAILED and snap.retryable
                    and snap.next_attempt_at is not None and snap.reason is not None
                    and snap.reason.message.startswith("Waiting for network, next try in"))

    wait_for(waiting, 20)
    assert not engine.wait_idle(0.1)  # keeps trying: the CLI would keep waiting
    config = ServerConfig(data_dir=tmp_path / "srv", port=port)
    with EmbeddedServer(config) as server:
        engine.set_server(server.url, None, server.token, server_key="local")
        wait_for(lambda: (s := item(engine, "late.txt")) and s.state is S.DONE, 30)


def test_pause_resume_and_cancel_mid_upload(live_server: ServerHandle, tmp_path: Path,
                                            make_engine) -> None:
    keep = random_file(tmp_path / "keep.bin", 12 * 1024 * 1024)
    drop = random_file(tmp_path / "drop.bin", 12 * 1024 * 1024)
    engine = make_engine(server_url=live_server.url, token=live_server.token,
                         bandwidth_limit=6 * 1024 * 1024)
    engine.add_paths([keep, drop], category="temporary")

    def sending(name: str) -> bool:
        snap = item(engine, name)
        return bool(snap and snap.state is S.UPLOADING and snap.bytes_sent > 1024 * 1024)

    # Past keep.bin's first chunk (1 s at the limit): a pause keeps what the server confirmed.
    wait_for(lambda: sending("keep.bin") and sending("drop.bin")
             and item(engine, "keep.bin").bytes_sent > 7 * 1024 * 1024,  # type: ignore[union-attr]
             20, describe=engine.snapshot)
    drop_snap = item(engine, "drop.bin")
    assert drop_snap is not None and drop_snap.upload_url
    keep_id = item(engine, "keep.bin").id  # type: ignore[union-attr]
    engine.pause([keep_id])
    engine.cancel([drop_snap.id])
    wait_for(lambda: item(engine, "keep.bin").state is S.PAUSED, 10)  # type: ignore[union-attr]
    wait_for(lambda: item(engine, "drop.bin").state is S.CANCELLED, 10)  # type: ignore[union-attr]
    headers = {"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {live_server.token}"}
    wait_for(lambda: httpx.head(drop_snap.upload_url, headers=headers).status_code
             in (404, 410), 10)
    paused_at = item(engine, "keep.bin").bytes_sent  # type: ignore[union-attr]
    assert 0 < paused_at < keep.stat().st_size
    engine.resume([keep_id])
    wait_for(lambda: item(engine, "keep.bin").state is S.DONE, 30)  # type: ignore[union-attr]
    stored = server_files(live_server.url, live_server.token)
    assert [f["sha256"] for f in stored] == [sha256(keep)]


def test_file_edited_mid_upload_starts_over(live_server: ServerHandle, tmp_path: Path,
                                            make_engine) -> None:
    path = random_file(tmp_path / "clip.bin", 12 * 1024 * 1024)
    engine = make_engine(server_url=live_server.url, token=live_server.token,
                         bandwidth_limit=6 * 1024 * 1024)
    engine.add_paths([path], category="temporary")
    wait_for(lambda: (s := item(engine, "clip.bin")) and s.state is S.UPLOADING
             and s.bytes_sent > 1024 * 1024, 20, describe=engine.snapshot)
    with open(path, "r+b") as handle:  # the teacher saves a new version
        handle.seek(100)
        handle.write(b"EDITED" * 1000)
    wait_for(lambda: (s := item(engine, "clip.bin")) and s.state is S.DONE, 40)
    snap = item(engine, "clip.bin")
    assert snap is not None
    assert any(w.code == "source_changed" for w in snap.warnings)
    stored = server_files(live_server.url, live_server.token)
    assert [f["sha256"] for f in stored] == [sha256(path)]


def test_a_small_file_edited_while_its_one_request_goes_leaves_one_copy(
        live_server: ServerHandle, tmp_path: Path, make_engine) -> None:
    """Sent whole from the bytes that were checked, the old version completes on the server
    before the edit is noticed; it is deleted there, and only the new version stays."""
    path = text_file(tmp_path / "plan.txt", 8_000_000, seed=3)  # under 10 MB: one request
    engine = make_engine(server_url=live_server.url, token=live_server.token,
                         bandwidth_limit=2_000_000)
    engine.add_paths([path], category="temporary")
    wait_for(lambda: (s := item(engine, "plan.txt")) and s.state is S.UPLOADING
             and s.bytes_sent > 1_000_000, 20, describe=engine.snapshot)
    with open(path, "r+b") as handle:
        handle.seek(100)
        handle.write(b"EDITED")
    engine.update_config(bandwidth_limit=None)
    wait_for(lambda: (s := item(engine, "plan.txt")) and s.state is S.DONE, 40,
             describe=engine.snapshot)
    assert [f["sha256"] for f in server_files(live_server.url, live_server.token)] == [
        sha256(path)]


def test_a_small_file_deleted_while_its_one_request_goes_is_still_uploaded(
        live_server: ServerHandle, tmp_path: Path, make_engine) -> None:
    """What went is what was checked, and the server checked it against its SHA-256: the
    file is on the server whole, whatever happened to it here since."""
    path = text_file(tmp_path / "register.txt", 6_000_000, seed=4)
    checked = sha256(path)
    engine = make_engine(server_url=live_server.url, token=live_server.token,
                         bandwidth_limit=2_000_000)
    engine.add_paths([path], category="temporary")
    wait_for(lambda: (s := item(engine, "register.txt")) and s.state is S.UPLOADING
             and s.bytes_sent > 1_000_000, 20, describe=engine.snapshot)
    path.unlink()
    engine.update_config(bandwidth_limit=None)
    wait_for(lambda: (s := item(engine, "register.txt")) and s.state in (S.DONE, S.FAILED),
             40, describe=engine.snapshot)
    assert item(engine, "register.txt").state is S.DONE  # type: ignore[union-attr]
    assert [f["sha256"] for f in server_files(live_server.url, live_server.token)] == [checked]


def test_stop_and_restart_resumes_from_the_servers_offset_on_a_new_port(
        tmp_path: Path, make_engine) -> None:
    """The embedded server's port changes between runs; the upload URL is re-based."""
    path = random_file(tmp_path / "film.bin", 16 * 1024 * 1024)
    data_dir = tmp_path / "srv"
    first = EmbeddedServer(ServerConfig(data_dir=data_dir, port=0))
    handle = first.start()
    engine = make_engine(server_url=handle.url, token=handle.token, server_key="local",
                         bandwidth_limit=8 * 1024 * 1024)
    engine.add_paths([path], category="temporary")
    wait_for(lambda: (s := item(engine, "film.bin")) and s.state is S.UPLOADING
             and s.bytes_sent > 9 * 1024 * 1024, 20)  # past the first chunks (1 MiB, then 3 s)
    engine.stop()
    first.stop()
    snap = item(engine, "film.bin")
    assert snap is not None and snap.state is S.READY and snap.upload_url
    second = EmbeddedServer(ServerConfig(data_dir=data_dir, port=0))
    handle2 = second.start()
    try:
        headers = {"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {handle2.token}"}
        upload_id = snap.upload_url.rstrip("/").rsplit("/", 1)[-1]
        head = httpx.head(f"{handle2.url}/api/v1/storage/tus/{upload_id}", headers=headers)
        server_offset = int(head.headers["Upload-Offset"])
        assert server_offset >= 1024 * 1024  # at least the first chunk was confirmed
        resumed = make_engine(server_url=handle2.url, token=handle2.token, server_key="local",
                              bandwidth_limit=8 * 1024 * 1024)
        recorder = Recorder()
        resumed.subscribe(recorder)
        wait_for(lambda: (s := item(resumed, "film.bin")) and s.state is S.DONE, 30)
        sent = [e.item.bytes_sent for e in recorder.events()
                if isinstance(e, ItemChanged) and e.item.state is S.UPLOADING]
        assert sent and min(sent) >= server_offset  # continued, not started over
        assert [f["sha256"] for f in server_files(handle2.url, handle2.token)] == [sha256(path)]
    finally:
        second.stop()


def test_pictures_are_sent_optimized_and_originals_stay(live_server: ServerHandle,
                                                        tmp_path: Path, make_engine) -> None:
    from PIL import Image

    photo = tmp_path / "trip.jpg"
    Image.effect_noise((3200, 2400), 60).convert("RGB").save(photo, quality=95)
    before = sha256(photo)
    engine = make_engine(server_url=live_server.url, token=live_server.token)
    engine.add_paths([photo], category="media_resource")
    assert engine.wait_idle(60)
    snap = item(engine, "trip.jpg")
    assert snap is not None and snap.state is S.DONE, snap
    assert snap.optimized_size is not None and snap.optimized_size < photo.stat().st_size
    assert sha256(photo) == before  # the original is untouched
    (stored,) = server_files(live_server.url, live_server.token)
    assert stored["size"] == snap.optimized_size
    with Image.open(photo) as original:
        assert max(original.size) == 3200


def test_queue_commands_retry_remove_and_category(live_server: ServerHandle, tmp_path: Path,
                                                  make_engine) -> None:
    sheet = text_file(tmp_path / "sheet.txt", 3000)
    song = text_file(tmp_path / "song.txt", 3000, seed=2)
    engine = make_engine(server_url=live_server.url, token=live_server.token)
    engine.add_paths([sheet, song], category="avatar")  # text is not a profile picture
    assert engine.wait_idle(20)
    assert {s.state for s in engine.snapshot()} == {S.REJECTED}
    sheet_id = item(engine, "sheet.txt").id  # type: ignore[union-attr]
    engine.set_category(sheet_id, "educational_content")
    wait_for(lambda: item(engine, "sheet.txt").state is S.DONE, 20)  # type: ignore[union-attr]
    engine.clear_finished()
    wait_for(lambda: len(engine.snapshot()) == 0, 10)
    engine.add_paths([song], category="educational_content")
    wait_for(lambda: (s := item(engine, "song.txt")) and s.state is S.DONE, 20)
    engine.remove([item(engine, "song.txt").id])  # type: ignore[union-attr]
    wait_for(lambda: engine.snapshot() == [], 10)


def test_crash_after_the_last_byte_does_not_send_the_file_twice(
        live_server: ServerHandle, tmp_path: Path, make_engine) -> None:
    """Killed after the server stored the file but before ``done`` was saved: the next run
    finds the file on the server (its upload is gone) instead of uploading it again."""
    from toolbox_uploader.core.session_store import SessionStore, relative_upload_path

    path = random_file(tmp_path / "report.bin", 11 * 1024 * 1024)
    first = make_engine(server_url=live_server.url, token=live_server.token,
                        store_path=tmp_path / "first.sqlite3")
    first.add_paths([path], category="temporary")
    assert first.wait_idle(30)
    done = item(first, "report.bin")
    assert done is not None and done.state is S.DONE and done.upload_url
    # The second store is what the first one held just before the crash.
    store = SessionStore(tmp_path / "second.sqlite3")
    st = path.stat()
    record = store.add(server_key=live_server.url, source_path=str(path),
                       relative_path="report.bin", display_name="report.bin",
                       category="temporary", size=st.st_size, mtime=st.st_mtime)
    endpoint = live_server.url + "/api/v1/storage/tus/"
    store.transition(record.id, S.VALIDATING)
    store.transition(record.id, S.READY, validated_at=1.0)
    store.transition(record.id, S.UPLOADING, upload_url=done.upload_url,
                     upload_path=relative_upload_path(endpoint, done.upload_url))
    store.close()
    second = make_engine(server_url=live_server.url, token=live_server.token,
                         store_path=tmp_path / "second.sqlite3")
    wait_for(lambda: (s := item(second, "report.bin")) and s.state is S.DONE, 30)
    assert len(server_files(live_server.url, live_server.token)) == 1


def test_crash_after_a_small_file_arrived_does_not_send_it_twice(
        live_server: ServerHandle, tmp_path: Path, make_engine) -> None:
    """A small file goes in one request; killed after the server stored it but before the
    answer was saved, the next run has no upload URL. It asks the server for this content
    at this path and finds it, instead of storing a second copy."""
    # A decomposed (NFD) folder name, as macOS writes them: the server stores paths in NFC.
    path = text_file(tmp_path / "E\u0301le\u0300ves" / "quiz.txt", 40_000, seed=7)
    first = make_engine(server_url=live_server.url, token=live_server.token,
                        store_path=tmp_path / "first.sqlite3")
    first.add_paths([path.parent], category="educational_content")
    assert first.wait_idle(30)
    sent = item(first, "quiz.txt")
    assert sent is not None and sent.state is S.DONE
    (stored,) = server_files(live_server.url, live_server.token)
    assert stored["relative_path"] == "\u00c9l\u00e8ves/quiz.txt"

    # The second store is what the first one held while the request was in flight.
    store_cut_off_mid_send(tmp_path / "second.sqlite3", live_server.url, path,
                           sent.relative_path, "educational_content")
    second = make_engine(server_url=live_server.url, token=live_server.token,
                         store_path=tmp_path / "second.sqlite3")
    wait_for(lambda: (s := item(second, "quiz.txt")) and s.state is S.DONE, 30)
    assert len(server_files(live_server.url, live_server.token)) == 1
    done = item(second, "quiz.txt")
    assert done is not None and done.file_url is not None
    assert done.file_url.endswith(stored["id"])


def test_a_lost_answer_to_a_small_upload_does_not_mean_a_second_copy(
        live_server: ServerHandle, tmp_path: Path, make_engine) -> None:
    """The one request of a small file reaches the server whole, and its answer is cut on
    the way back: the retry asks the server, finds the file and stores no second copy."""
    path = text_file(tmp_path / "Week 4" / "homework.txt", 30_000, seed=11)
    host, port = live_server.url.rsplit("//", 1)[1].split(":")
    with ThreadedFaultProxy(host, int(port), lose_answer=1.0, methods={"POST"},
                            max_faults=1) as proxy:
        engine = make_engine(server_url=proxy.url, token=live_server.token)
        engine.add_paths([path.parent], category="educational_content")
        wait_for(lambda: (s := item(engine, "homework.txt")) and s.state is S.DONE, 30)
        assert proxy.stats.truncated_responses == 1
    done = item(engine, "homework.txt")
    assert done is not None and done.attempts == 1
    (stored,) = server_files(live_server.url, live_server.token)
    assert stored["sha256"] == sha256(path)


def test_a_copy_in_another_category_is_not_taken_for_the_cut_off_upload(
        live_server: ServerHandle, tmp_path: Path, make_engine) -> None:
    """Same content at the same path but filed under another category: not this item's
    upload, so after the crash the file is sent (the answer is checked, not trusted)."""
    path = text_file(tmp_path / "plan.txt", 20_000, seed=9)
    first = make_engine(server_url=live_server.url, token=live_server.token,
                        store_path=tmp_path / "first.sqlite3")
    first.add_paths([path], category="report")
    assert first.wait_idle(30)
    store_cut_off_mid_send(tmp_path / "second.sqlite3", live_server.url, path, "plan.txt",
                           "educational_content")
    second = make_engine(server_url=live_server.url, token=live_server.token,
                         store_path=tmp_path / "second.sqlite3")
    wait_for(lambda: (s := item(second, "plan.txt")) and s.state is S.DONE, 30)
    stored = server_files(live_server.url, live_server.token)
    assert sorted(f["category"] for f in stored) == ["educational_content", "report"]


def test_a_small_file_that_never_arrived_is_sent_after_a_crash(
        live_server: ServerHandle, tmp_path: Path, make_engine) -> None:
    """The same crash with nothing on the server: the question finds nothing, the file goes."""
    path = text_file(tmp_path / "notes.txt", 30_000, seed=8)
    store_cut_off_mid_send(tmp_path / "queue.sqlite3", live_server.url, path, "notes.txt",
                           "educational_content")
    engine = make_engine(server_url=live_server.url, token=live_server.token)
    wait_for(lambda: (s := item(engine, "notes.txt")) and s.state is S.DONE, 30)
    (stored,) = server_files(live_server.url, live_server.token)
    assert stored["sha256"] == sha256(path) and stored["relative_path"] == "notes.txt"


def test_a_big_file_already_on_the_server_is_hashed_then_skipped(
        live_server: ServerHandle, tmp_path: Path, make_engine) -> None:
    original = random_file(tmp_path / "a" / "Films" / "trip.bin", 11 * 1024 * 1024)
    engine = make_engine(server_url=live_server.url, token=live_server.token)
    engine.add_paths([original.parent], category="temporary")
    assert engine.wait_idle(30)
    copy = tmp_path / "b" / "Films" / "trip.bin"
    copy.parent.mkdir(parents=True)
    shutil.copy(original, copy)
    engine.add_paths([copy.parent], category="temporary")
    assert engine.wait_idle(30)
    twin = next(s for s in engine.snapshot() if s.source_path == str(copy))
    assert twin.state is S.DONE and twin.reason is not None
    assert twin.reason.code == "already_uploaded"
    assert len(server_files(live_server.url, live_server.token)) == 1


def test_an_engine_can_be_stopped_and_started_again(live_server: ServerHandle, tmp_path: Path,
                                                    make_engine) -> None:
    engine = make_engine(server_url=live_server.url, token=live_server.token)
    engine.stop()
    engine.start()
    path = text_file(tmp_path / "again.txt", 3000)
    engine.add_paths([path])
    assert engine.wait_idle(20)
    assert [s.state for s in engine.snapshot()] == [S.DONE]


def test_the_bandwidth_limit_holds_for_small_files_too(live_server: ServerHandle,
                                                       tmp_path: Path, make_engine) -> None:
    # Files under 10 MB go in their creation request; the cap applies to those bytes too.
    files = [text_file(tmp_path / "Week 1" / f"sheet{n}.txt", 400_000, seed=n) for n in range(3)]
    engine = make_engine(server_url=live_server.url, token=live_server.token,
                         bandwidth_limit=1_000_000)
    started = time.monotonic()
    engine.add_paths([tmp_path / "Week 1"])
    wait_for(lambda: all((s := item(engine, p.name)) and s.state is S.DONE for p in files), 30,
             describe=engine.snapshot)
    # 1.2 MB at 1 MB/s, less the limiter's quarter-second burst: close to a second.
    assert time.monotonic() - started >= 0.8
    stored = {f["sha256"] for f in server_files(live_server.url, live_server.token)}
    assert stored == {sha256(p) for p in files}
