"""Saving settings during an upload never freezes the window or interrupts the upload.

Upload settings go to the running engine. A switch away from the built-in server means
stopping a server that waits for the bodies it receives (seconds); that happens off the
GUI thread, and quitting in the middle stops everything.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from pytestqt.qtbot import QtBot

from tests.engine.engine_support import text_file
from tests.support.locked_keyring import LONGEST, locked_keyring
from toolbox_uploader.core import credentials
from toolbox_uploader.core.engine import Engine, EngineConfig
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import ServerHandle
from toolbox_uploader.settings import Settings
from toolbox_uploader.ui.queue_model import Column

S = ItemState
WaitItem = Callable[..., Any]
#: Far below the 7-10 s the window used to freeze, with room for a busy test machine.
MAX_STALL = 0.5


class Heartbeat:
    """A 10 ms timer on the GUI thread: ``max_gap`` is the longest the thread was busy."""

    def __init__(self) -> None:
        self.max_gap = 0.0
        self._last = time.monotonic()
        self._timer = QTimer()
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._beat)

    def _beat(self) -> None:
        now = time.monotonic()
        self.max_gap = max(self.max_gap, now - self._last)
        self._last = now

    def __enter__(self) -> Heartbeat:
        self._last = time.monotonic()
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._beat()
        self._timer.stop()


class SilentServer:
    """Accepts connections (the kernel does) and never answers: an engine stopping while
    a request to it is open waits for that request, seconds, like a stalled school server."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def close(self) -> None:
        """Pending connections are reset: the engine's requests end at once."""
        self._sock.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


@pytest.mark.slow
def test_new_uploads_at_a_time_while_a_request_hangs_does_not_freeze(
        qtbot: QtBot, start_app: Any, wait_item: WaitItem, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, silent_server: SilentServer) -> None:
    monkeypatch.setenv("TOOLBOX_UPLOADER_TOKEN", "class-7b")
    settings = Settings(server_url=silent_server.url)
    app = start_app(settings)
    app.add_paths([text_file(tmp_path / "plan.txt", 4000)])
    sending = wait_item(app, lambda i: i.state is S.UPLOADING)
    engine = app.engine
    changed: list[ItemState] = []
    app.bridge.items_changed.connect(
        lambda items: changed.extend(i.state for i in items if i.id == sending.id))
    late = text_file(tmp_path / "late.txt", 3000, seed=1)

    with Heartbeat() as beat:
        began = time.monotonic()
        app.apply_settings(dataclasses.replace(settings, concurrency=2,
                                               bandwidth_limit_kib=512))
        took = time.monotonic() - began
        app.window.add_paths([late])
        qtbot.wait(300)
    assert took < MAX_STALL, f"apply_settings took {took:.2f} s"
    assert beat.max_gap < MAX_STALL, f"the GUI thread stalled {beat.max_gap:.2f} s"
    assert not app.switching and app.engine is engine and app.window.engine is engine
    assert engine.config.concurrency == 2 and engine.config.bandwidth_limit == 512 * 1024
    wait_item(app, lambda i: i.display_name == "late.txt")
    # The request to the stalled server was left alone: no restart, no pause.
    assert all(state is S.UPLOADING for state in changed), changed
    assert next(i for i in app.window.model.items() if i.id == sending.id).state \
        is S.UPLOADING
    silent_server.close()


@pytest.mark.slow
def test_leaving_the_local_server_while_it_receives_a_file_does_not_freeze(
        qtbot: QtBot, start_app: Any, wait_item: WaitItem, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, live_server: ServerHandle) -> None:
    monkeypatch.setenv("TOOLBOX_UPLOADER_TOKEN", live_server.token)
    big = tmp_path / "assembly recording.txt"
    big.write_text(("z" * 99 + "\n") * 200_000)  # 20 MB at 1 MiB/s: still going
    settings = Settings(bandwidth_limit_kib=1024)
    app = start_app(settings)
    app.add_paths([big])
    wait_item(app, lambda i: i.state is S.UPLOADING and i.bytes_sent > 1_000_000)

    with Heartbeat() as beat:
        began = time.monotonic()
        app.apply_settings(dataclasses.replace(settings, server_url=live_server.url))
        took = time.monotonic() - began
        with qtbot.waitSignal(app.settings_applied, timeout=30000):
            pass
    assert took < MAX_STALL, f"apply_settings took {took:.2f} s"
    assert beat.max_gap < MAX_STALL, f"the GUI thread stalled {beat.max_gap:.2f} s"
    assert app.local_server is None
    assert app.window.server_label.text() == f"Server: {live_server.url}"
    # The file the built-in server was receiving waits for it, resumable, not failed.
    left = wait_item(app, lambda i: i.display_name == big.name and i.state is not S.UPLOADING)
    assert left.state is S.READY and left.server == "local"
    model = app.window.model
    assert model.index(model.row_of(left.id), Column.STATUS).data() == "Waiting for its server"
    assert not app.window.uploads_running  # nothing to ask about when the window closes
    sheet = text_file(tmp_path / "rota.txt", 2000)
    app.add_paths([sheet])
    done = wait_item(app, lambda i: i.display_name == "rota.txt" and i.state is S.DONE)
    assert done.file_url.startswith(live_server.url)


def test_the_latest_of_quick_changes_wins(
        qtbot: QtBot, start_app: Any, live_server: ServerHandle,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLBOX_UPLOADER_TOKEN", live_server.token)
    settings = Settings()
    app = start_app(settings)
    # Away from the built-in server (stopped in the background), and straight back.
    app.apply_settings(dataclasses.replace(settings, server_url=live_server.url,
                                           concurrency=2))
    assert app.switching
    app.apply_settings(dataclasses.replace(settings, concurrency=4, optimize_images=False))
    qtbot.waitUntil(lambda: not app.switching, timeout=30000)
    assert app.engine is not None and app.engine.config.concurrency == 4
    assert app.engine.config.optimize_images is False
    assert app.target is not None and app.target.local and app.local_server is not None
    engine = app.engine  # its thread takes the move back to the built-in server a moment later
    qtbot.waitUntil(lambda: engine.server_key == "local", timeout=5000)


def test_a_new_default_category_needs_no_new_engine(start_app: Any) -> None:
    settings = Settings()
    app = start_app(settings)
    engine = app.engine
    app.apply_settings(dataclasses.replace(settings, default_category="assessment"))
    assert not app.switching and app.engine is engine
    assert app.window.category == "assessment"


def test_quitting_while_settings_apply_stops_everything(
        qtbot: QtBot, start_app: Any, wait_item: WaitItem, tmp_path: Path) -> None:
    big = tmp_path / "lesson video.txt"
    big.write_text(("q" * 99 + "\n") * 120_000)
    settings = Settings(bandwidth_limit_kib=1024)
    app = start_app(settings)
    app.add_paths([big])
    item = wait_item(app, lambda i: i.state is S.UPLOADING and i.bytes_sent > 0)
    app.apply_settings(dataclasses.replace(settings, server_url="http://127.0.0.1:9"))
    assert app.switching  # the built-in server is still stopping
    with qtbot.waitSignal(app.stopped, timeout=30000):
        app.shutdown()
    assert app.engine is None and app.local_server is None and not app.switching
    # Nothing is left holding the queue: another engine can open it, the item resumable.
    with Engine(EngineConfig(store_path=app.store_path, auto_resume=False)) as engine:
        snap = next(s for s in engine.snapshot() if s.id == item.id)
        assert snap.state in (S.READY, S.PAUSED)


def test_settings_keep_the_drop_zones_category_unless_its_default_changed(
        start_app: Any) -> None:
    """The teacher set the drop zone to media for a batch of videos, then changed only the
    bandwidth: the next videos must not go under "Teaching material" (and be refused)."""
    settings = Settings()
    app = start_app(settings)
    app.window.set_default_category("media_resource")
    app.apply_settings(dataclasses.replace(settings, bandwidth_limit_kib=512))
    assert app.window.category == "media_resource"
    app.apply_settings(dataclasses.replace(settings, bandwidth_limit_kib=512,
                                           default_category="temporary"))
    assert app.window.category == "temporary"  # the default itself changed: shown


def test_switching_to_a_school_server_while_the_keyring_waits_does_not_freeze(
        qtbot: QtBot, start_app: Any, live_server: ServerHandle) -> None:
    """The keyring is asked for the school server's token off the GUI thread, and the
    engine moves there once it answered, with that token."""
    settings = Settings()
    app = start_app(settings)
    with locked_keyring({(credentials.SERVICE, live_server.url): live_server.token}) as locked:
        with Heartbeat() as beat:
            began = time.monotonic()
            app.apply_settings(dataclasses.replace(settings, server_url=live_server.url))
            took = time.monotonic() - began
            assert locked.asked.wait(5)
            qtbot.wait(300)
        assert took < MAX_STALL, f"apply_settings took {took:.2f} s"
        assert beat.max_gap < MAX_STALL, f"the GUI thread stalled {beat.max_gap:.2f} s"
        assert app.switching and app.target.local  # nowhere to send without the token
        with qtbot.waitSignal(app.settings_applied, timeout=30000):
            locked.unlocked.set()
    assert app.target.url == live_server.url and app.target.token == live_server.token
    assert app.local_server is None
    assert app.window.server_label.text() == f"Server: {live_server.url}"


def test_quitting_while_the_keyring_waits_does_not_wait_for_it(
        qtbot: QtBot, start_app: Any, live_server: ServerHandle) -> None:
    settings = Settings()
    app = start_app(settings)
    with locked_keyring() as locked:
        app.apply_settings(dataclasses.replace(settings, server_url=live_server.url))
        assert locked.asked.wait(5)
        began = time.monotonic()
        with qtbot.waitSignal(app.stopped, timeout=10000):
            app.shutdown()
        assert time.monotonic() - began < LONGEST / 2  # not until the keyring gave up
    assert app.engine is None and app.local_server is None and not app.switching


def test_a_sign_in_carries_on_after_the_settings_are_closed(
        qtbot: QtBot, start_app: Any, live_server: ServerHandle) -> None:
    app = start_app(Settings(server_url=live_server.url))  # not signed in yet
    with locked_keyring() as locked:
        dialog = app.open_settings()
        dialog.token.setText(live_server.token)
        dialog.sign_in_button.click()
        dialog.reject()  # straight away, while the keyring waits for its unlock prompt
        qtbot.wait(100)
        assert app.target.token is None
        locked.unlocked.set()
        qtbot.waitUntil(lambda: app.target.token == live_server.token, timeout=5000)
        assert locked.passwords == {(credentials.SERVICE, live_server.url): live_server.token}
    assert app.window.server_label.text() == f"Server: {live_server.url}"


def test_quitting_right_after_signing_in_keeps_the_token(
        qtbot: QtBot, start_app: Any, live_server: ServerHandle) -> None:
    """The keyring's unlock prompt is still open when the teacher quits: quitting waits a
    little for it, or the token just given would be lost with the process."""
    app = start_app(Settings(server_url=live_server.url))
    with locked_keyring() as locked:
        dialog = app.open_settings()
        dialog.token.setText(live_server.token)
        dialog.sign_in_button.click()
        unlock = threading.Timer(0.5, locked.unlocked.set)  # the teacher types the password
        unlock.start()
        try:
            with qtbot.waitSignal(app.stopped, timeout=10000):
                app.shutdown()
        finally:
            unlock.cancel()
        assert locked.passwords == {(credentials.SERVICE, live_server.url): live_server.token}
