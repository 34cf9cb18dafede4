"""The school server is down: rows wait for their automatic retry, and the window, the tray
and the status bar must treat them as unfinished work, not as finished failures."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from toolbox_uploader.core.engine import QUEUE_NOT_SAVED
from toolbox_uploader.core.events import BatchProgress, ItemSnapshot, QueueStatus, ServerStatus
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.settings import Settings
from toolbox_uploader.ui.bridge import EngineBridge
from toolbox_uploader.ui.main_window import CloseChoice, MainWindow
from toolbox_uploader.ui.queue_model import QueueModel

S = ItemState
WaitItem = Callable[..., Any]


def waiting_row(app: Any, wait_item: WaitItem, tmp_path: Path) -> ItemSnapshot:
    """Queue a worksheet and return its row once it waits for a retry that is not imminent
    (so the checks that follow see it waiting, not mid-attempt)."""
    sheet = tmp_path / "worksheet.txt"
    sheet.write_text("Fractions: 1/2 + 1/4 = ?\n")
    app.add_paths([sheet])
    return wait_item(app, lambda i: i.state is S.FAILED and i.next_attempt_at is not None
                     and i.next_attempt_at - time.time() > 1.5, timeout=40)


def status_bar_texts(app: Any) -> list[str]:
    """Everything the status bar shows now: its temporary message and its visible labels."""
    bar = app.window.statusBar()
    return [bar.currentMessage()] + [label.text() for label in bar.findChildren(QLabel)
                                     if label.isVisible()]


def test_rows_waiting_to_retry_keep_pause_all_and_the_close_question(
        qtbot: QtBot, start_app: Any, wait_item: WaitItem, down_server_url: str,
        tmp_path: Path) -> None:
    app = start_app(Settings(server_url=down_server_url))
    waiting_row(app, wait_item, tmp_path)
    window = app.window
    assert window.pause_all_action.isEnabled()
    asked: list[bool] = []

    def stay() -> CloseChoice:
        asked.append(True)
        return CloseChoice.CANCEL

    window.ask_on_close = stay
    window.close()
    assert asked == [True]  # closing would have stopped the automatic retries
    assert window.isVisible() and app.engine is not None
    window.pause_all_action.trigger()  # the engine pauses rows that wait to retry
    wait_item(app, lambda i: i.state is S.PAUSED)


def test_tray_does_not_call_a_batch_finished_while_rows_wait_to_retry(
        qtbot: QtBot, start_app: Any, wait_item: WaitItem, down_server_url: str,
        tmp_path: Path) -> None:
    app = start_app(Settings(server_url=down_server_url))
    tray = app.tray
    notes: list[tuple[str, str]] = []
    tray.notified.connect(lambda title, text: notes.append((title, text)))
    row = waiting_row(app, wait_item, tmp_path)
    size = row.size or 0
    # Totals as the engine reports them once it counts a waiting row as active ...
    tray.on_batch_progress(BatchProgress(1, 0, 0, size, 0, 0.0, 3.0))
    assert "waiting to retry" in tray.tooltip
    assert "left" not in tray.tooltip  # nothing is being sent: no time to promise
    # ... and as an engine that counts it as failed does: still not finished.
    tray.on_batch_progress(BatchProgress(1, 0, 1, 0, 0, 0.0, None))
    assert "nothing to upload" not in tray.tooltip
    assert notes == []


def test_the_offline_notice_outlives_adding_files(
        qtbot: QtBot, start_app: Any, down_server_url: str, tmp_path: Path) -> None:
    app = start_app(Settings(server_url=down_server_url))
    sheet = tmp_path / "worksheet.txt"
    sheet.write_text("Fractions: 1/2 + 1/4 = ?\n")
    app.add_paths([sheet])
    qtbot.waitUntil(lambda: any("cannot be reached" in t for t in status_bar_texts(app)),
                    timeout=20000)
    more = tmp_path / "homework.txt"
    more.write_text("Read chapter 4.\n")
    app.window.add_paths([more])
    texts = status_bar_texts(app)
    assert any(t.startswith("Adding “homework.txt”") for t in texts)
    assert any("cannot be reached" in t for t in texts), texts
    app.window.statusBar().clearMessage()  # what the 3 s timeout of "Adding…" does
    assert any("cannot be reached" in t for t in status_bar_texts(app))


def test_the_model_keeps_count_of_rows_waiting_to_retry(
        make_item: Callable[..., ItemSnapshot]) -> None:
    model = QueueModel()
    waiting = make_item(state=S.FAILED, next_attempt_at=time.time() + 30)
    given_up = make_item(state=S.FAILED)
    model.add_items([waiting, given_up, make_item(state=S.UPLOADING)])
    assert model.waiting_to_retry() == 1
    model.update_items([replace(given_up, next_attempt_at=time.time() + 5)])
    assert model.waiting_to_retry() == 2
    model.update_items([replace(waiting, state=S.UPLOADING, next_attempt_at=None)])
    assert model.waiting_to_retry() == 1
    model.remove_ids([given_up.id])
    assert model.waiting_to_retry() == 0
    model.set_items([waiting])
    assert model.waiting_to_retry() == 1


def test_the_offline_notice_belongs_to_the_server_it_was_about(qtbot: QtBot) -> None:
    window = MainWindow(EngineBridge())
    qtbot.addWidget(window)
    window.set_server_text("Server: https://old.school.example")
    window.on_server_status(ServerStatus(False, "The server cannot be reached."))
    assert not window.server_problem.isHidden()
    window.set_server_text("Server: https://old.school.example")  # the same server again
    assert not window.server_problem.isHidden()
    window.set_server_text("Server: https://new.school.example")  # settings changed it
    assert window.server_problem.isHidden()
    window.on_server_status(ServerStatus(True, needs_sign_in=True))
    assert window.server_problem_label.text() == "Sign in to the server (Settings) to carry on."
    window.on_server_status(ServerStatus(True, "Connected."))
    assert window.server_problem.isHidden()


def test_a_queue_that_cannot_be_saved_is_shown_until_it_can(qtbot: QtBot) -> None:
    """Through the bridge, as the engine tells it; next to a server problem, not over it."""
    bridge = EngineBridge()
    window = MainWindow(bridge)
    qtbot.addWidget(window)
    bridge.listener([QueueStatus(False, QUEUE_NOT_SAVED)])
    qtbot.waitUntil(lambda: not window.server_problem.isHidden(), timeout=2000)
    assert window.server_problem_label.text() == QUEUE_NOT_SAVED
    window.on_server_status(ServerStatus(False, "The server cannot be reached."))
    assert window.server_problem_label.toolTip() == (
        f"{QUEUE_NOT_SAVED}\nThe server cannot be reached.")
    window.on_server_status(ServerStatus(True, "Connected."))
    assert window.server_problem_label.text() == QUEUE_NOT_SAVED
    bridge.listener([QueueStatus(True)])
    qtbot.waitUntil(window.server_problem.isHidden, timeout=2000)


def test_closing_while_the_queue_cannot_be_saved_asks(qtbot: QtBot) -> None:
    """Nothing uploads, but the rows as shown would not survive a restart."""
    asked: list[bool] = []
    for problem in (QueueStatus(True), QueueStatus(False, QUEUE_NOT_SAVED)):
        window = MainWindow(EngineBridge())
        qtbot.addWidget(window)
        window.ask_on_close = lambda: asked.append(True) or CloseChoice.CANCEL
        window.show()
        window.on_queue_status(problem)
        window.close()
        assert window.isVisible() is (not problem.saved)  # asked, and the answer was no
        window.ask_on_close = lambda: CloseChoice.QUIT
    assert asked == [True]  # nothing to lose the first time: no question
