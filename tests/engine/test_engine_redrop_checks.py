"""A done file dropped again: what a teacher expects in the cases around the check
"still on the server?" (README, "Integrity"): a drop that names a file gone from the disk,
the built-in server on another port, a copy of the folder, a server that does not answer."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.engine.engine_support import server_files, text_file, wait_for
from toolbox_uploader.core import engine as engine_module
from toolbox_uploader.core.engine import Engine
from toolbox_uploader.core.events import REMOVED_FROM_SERVER
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.embedded import LOCAL_SERVER_KEY, EmbeddedServer, ServerHandle

S = ItemState
MakeEngine = Callable[..., Engine]


def _delete_on_server(url: str, token: str, file_id: str) -> None:
    gone = httpx.delete(f"{url}/api/v1/files/{file_id}",
                        headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert gone.status_code == 204


def _newest(engine: Engine) -> dict[str, object]:
    newest: dict[str, object] = {}
    for snap in engine.snapshot():
        newest[snap.source_path] = snap
    return newest


def test_a_done_file_gone_from_the_disk_does_not_lose_the_rest_of_the_drop(
        make_engine: MakeEngine, live_server: ServerHandle, tmp_path: Path) -> None:
    """``upload old.txt new.txt`` after old.txt was uploaded and then deleted here: new.txt
    is sent and old.txt stays done (it is on the server); the whole drop was dropped."""
    old = text_file(tmp_path / "old.txt", 2000, seed=1)
    new = text_file(tmp_path / "new.txt", 2000, seed=2)
    engine = make_engine(server_url=live_server.url, token=live_server.token)
    engine.add_paths([old])
    assert engine.wait_idle(30), engine.snapshot()
    old.unlink()
    engine.add_paths([old, new])
    assert engine.wait_idle(30), engine.snapshot()
    states = {s.display_name: s.state for s in engine.snapshot()}  # type: ignore[attr-defined]
    assert states == {"old.txt": S.DONE, "new.txt": S.DONE}
    names = sorted(f["filename"] for f in server_files(live_server.url, live_server.token))
    assert names == ["new.txt", "old.txt"]


def test_the_built_in_server_on_another_port_is_still_asked(make_engine: MakeEngine,
                                                            tmp_path: Path) -> None:
    """The app's built-in server moves to another port when its last one is taken; a file
    deleted there since is still sent again when dropped back."""
    config = ServerConfig(data_dir=tmp_path / "built-in", host="127.0.0.1", port=0)
    sheet = text_file(tmp_path / "Week1" / "sheet.txt", 3000)
    first = EmbeddedServer(config)
    handle = first.start()
    try:
        engine = make_engine(server_url=handle.url, token=handle.token,
                             server_key=LOCAL_SERVER_KEY)
        engine.add_paths([sheet.parent])
        assert engine.wait_idle(30), engine.snapshot()
        engine.stop()
    finally:
        first.stop()
    with socket.socket() as holder:  # the old port is taken by something else now
        holder.bind(("127.0.0.1", handle.port))
        second = EmbeddedServer(config)
        moved = second.start()
        try:
            assert moved.port != handle.port
            (stored,) = server_files(moved.url, moved.token)
            _delete_on_server(moved.url, moved.token, stored["id"])
            engine = make_engine(server_url=moved.url, token=moved.token,
                                 server_key=LOCAL_SERVER_KEY)
            engine.add_paths([sheet.parent])
            assert engine.wait_idle(30), engine.snapshot()
            assert [f["filename"] for f in server_files(moved.url, moved.token)] == [
                "sheet.txt"]
            (snap,) = _newest(engine).values()
            assert snap.state is S.DONE  # type: ignore[attr-defined]
            assert [w.code for w in snap.warnings] == [REMOVED_FROM_SERVER]  # type: ignore[attr-defined]
        finally:
            engine.stop()
            second.stop()


def test_a_file_deleted_on_the_server_is_sent_again_from_a_copy_of_the_folder(
        make_engine: MakeEngine, live_server: ServerHandle, tmp_path: Path) -> None:
    """The same folder on the desktop and on a USB stick: the second copy was "already
    uploaded". Once the file is deleted on the server, dropping either copy sends it."""
    import shutil

    text_file(tmp_path / "desktop" / "Week1" / "quiz.txt", 2500)
    shutil.copytree(tmp_path / "desktop", tmp_path / "stick")
    url, token = live_server.url, live_server.token
    engine = make_engine(server_url=url, token=token)
    engine.add_paths([tmp_path / "desktop" / "Week1"])
    assert engine.wait_idle(30), engine.snapshot()
    engine.add_paths([tmp_path / "stick" / "Week1"])
    assert engine.wait_idle(30), engine.snapshot()
    assert len(server_files(url, token)) == 1  # the copy was found already there
    (stored,) = server_files(url, token)
    _delete_on_server(url, token, stored["id"])

    engine.add_paths([tmp_path / "stick" / "Week1"])
    assert engine.wait_idle(30), engine.snapshot()
    assert [f["relative_path"] for f in server_files(url, token)] == ["Week1/quiz.txt"]
    newest = _newest(engine)[str(tmp_path / "stick" / "Week1" / "quiz.txt")]
    assert newest.state is S.DONE  # type: ignore[attr-defined]
    assert newest.reason is None  # sent, not "already uploaded"  # type: ignore[attr-defined]
    # Both earlier rows say the file they name is gone (nothing counts them as on the server).
    earlier = [s for s in engine.snapshot() if s.id != newest.id]  # type: ignore[attr-defined]
    assert [s.reason.code for s in earlier if s.reason] == [REMOVED_FROM_SERVER] * 2


def test_a_server_that_does_not_answer_does_not_hold_a_redropped_folder(
        make_engine: MakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """80 done worksheets dropped again while the school server hangs: they stay done, and
    the queue is idle after one unanswered check, not after one per 8 files (an hour for a
    folder of 1,000 with the usual 30 s timeout)."""
    monkeypatch.setattr(engine_module, "_CHECK_TIMEOUT", 2.0)
    folder = tmp_path / "Term"
    for n in range(80):
        text_file(folder / f"sheet-{n:02d}.txt", 600, seed=n)
    config = ServerConfig(data_dir=tmp_path / "school", host="127.0.0.1", port=0)
    server = EmbeddedServer(config)
    handle = server.start()
    try:
        engine = make_engine(server_url=handle.url, token=handle.token, server_key="school")
        engine.add_paths([folder])
        assert engine.wait_idle(60), engine.snapshot()
        engine.stop()
    finally:
        server.stop()
    # The same server, hung: it still holds the port and takes connections, never answers.
    with socket.socket() as hung:
        hung.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        hung.bind(("127.0.0.1", handle.port))
        hung.listen(512)
        engine = make_engine(server_url=handle.url, token=handle.token, server_key="school")
        started = time.monotonic()
        engine.add_paths([folder])
        wait_for(lambda: engine.wait_idle(0.1), 60,
                 describe=lambda: [s.state for s in engine.snapshot()])
        took = time.monotonic() - started
        assert took < 8, took
        snaps = engine.snapshot()
        assert len(snaps) == 80 and all(s.state is S.DONE and s.reason is None for s in snaps)
        engine.stop()


@pytest.mark.parametrize("size", [2500, 12_000_000], ids=["small", "chunked"])
def test_a_copy_found_already_uploaded_is_sent_when_the_server_lost_it(
        make_engine: MakeEngine, live_server: ServerHandle, tmp_path: Path, size: int) -> None:
    """Week1 sent from the desktop, the quiz deleted on the server, then Week1 dropped from
    the USB stick for the first time: "already uploaded" would leave the server without it.
    (A small file is found at validation, a bigger one by its upload, hashed first.)"""
    import shutil

    from tests.engine.engine_support import random_file

    random_file(tmp_path / "desktop" / "Week1" / "quiz.bin", size)
    shutil.copytree(tmp_path / "desktop", tmp_path / "stick")
    url, token = live_server.url, live_server.token
    engine = make_engine(server_url=url, token=token)
    engine.add_paths([tmp_path / "desktop" / "Week1"], category="temporary")
    assert engine.wait_idle(30), engine.snapshot()
    (stored,) = server_files(url, token)
    _delete_on_server(url, token, stored["id"])

    engine.add_paths([tmp_path / "stick" / "Week1"], category="temporary")
    assert engine.wait_idle(30), engine.snapshot()
    assert [f["relative_path"] for f in server_files(url, token)] == ["Week1/quiz.bin"]
    newest = _newest(engine)[str(tmp_path / "stick" / "Week1" / "quiz.bin")]
    assert newest.state is S.DONE and newest.reason is None  # type: ignore[attr-defined]


def test_back_to_the_first_account_a_file_it_lost_is_sent_again(
        make_engine: MakeEngine, live_server: ServerHandle, server_config: ServerConfig,
        tmp_path: Path) -> None:
    """A shared laptop: the teacher's file, then a colleague's token sends it to the
    colleague; the teacher's copy is deleted; back with the teacher's token it is sent."""
    from tests.engine.engine_support import add_server_account

    folder = tmp_path / "Week1"
    text_file(folder / "quiz.txt", 3000)
    url, teacher = live_server.url, live_server.token
    colleague = add_server_account(server_config.data_dir, "colleague")
    for token in (teacher, colleague):
        engine = make_engine(server_url=url, token=token)
        engine.add_paths([folder])
        assert engine.wait_idle(30), engine.snapshot()
        engine.stop()
    (stored,) = server_files(url, teacher)
    _delete_on_server(url, teacher, stored["id"])

    engine = make_engine(server_url=url, token=teacher)
    engine.add_paths([folder])
    assert engine.wait_idle(30), engine.snapshot()
    assert [f["relative_path"] for f in server_files(url, teacher)] == ["Week1/quiz.txt"]
    assert len(server_files(url, colleague)) == 1
