"""Rows that still wait, for a retry or for the server the teacher switched away from:
Space does to them no more than their buttons offer, the overall bar does not say 100%
while they wait, and a copied report says what the dialog says. Real app, engine, servers."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from tests.engine.engine_support import text_file
from toolbox_uploader.core.events import ItemSnapshot
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.settings import Settings
from toolbox_uploader.ui.filter_model import QueueFilter
from toolbox_uploader.ui.queue_model import RowAction

S = ItemState
WaitItem = Callable[..., Any]


def waiting_row(app: Any, wait_item: WaitItem, tmp_path: Path) -> ItemSnapshot:
    """A worksheet for the unreachable server, once it waits for a retry not imminent."""
    sheet = tmp_path / "worksheet.txt"
    sheet.write_text("Fractions: 1/2 + 1/4 = ?\n")
    app.add_paths([sheet])
    return wait_item(app, lambda i: i.state is S.FAILED and i.next_attempt_at is not None
                     and i.next_attempt_at - time.time() > 1.5, timeout=40)


def test_space_does_not_retry_a_row_waiting_for_its_server(
        qtbot: QtBot, start_app: Any, wait_item: WaitItem, down_server_url: str,
        tmp_path: Path) -> None:
    """Space does what the row's own buttons offer: this row has no Retry (it would move
    to "To do" and still wait for its server)."""
    app = start_app(Settings(server_url=down_server_url))
    window, model = app.window, app.window.model
    row = waiting_row(app, wait_item, tmp_path)

    with qtbot.waitSignal(app.settings_applied, timeout=30000):  # back to the local server
        app.apply_settings(replace(app.settings, server_url=""))
    qtbot.waitUntil(lambda: model.awaited_server(model.item(model.row_of(row.id)))
                    is not None, timeout=10000)
    assert RowAction.RETRY not in model.actions(model.item(model.row_of(row.id)))
    assert window.select_item(row.id)
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_Space)

    # A later command is carried out after the key's: once this file is done, the engine
    # has seen whatever Space sent.
    later = tmp_path / "later.txt"
    later.write_text("Homework: page 4.\n")
    app.add_paths([later])
    wait_item(app, lambda i: i.display_name == "later.txt" and i.state is S.DONE, timeout=30)
    waiting = model.item(model.row_of(row.id))
    assert waiting.state is S.FAILED and waiting.next_attempt_at is not None
    assert window.filter_buttons[QueueFilter.FAILED].text() == "Not sent (1)"
    assert window.filter_buttons[QueueFilter.ACTIVE].text() == "To do (0)"


def test_the_overall_bar_is_not_full_while_a_file_waits_to_retry(
        qtbot: QtBot, start_app: Any, wait_item: WaitItem, down_server_url: str,
        tmp_path: Path) -> None:
    """Megabytes sent and a worksheet of 25 bytes waiting: 99.99% rounds to "100%", which a
    teacher reads as "all done, I can close the laptop"."""
    app = start_app()
    window = app.window
    video = text_file(tmp_path / "lesson notes.txt", 3_000_000)
    app.add_paths([video])
    wait_item(app, lambda i: i.display_name == "lesson notes.txt" and i.state is S.DONE,
              timeout=30)
    with qtbot.waitSignal(app.settings_applied, timeout=30000):
        app.apply_settings(replace(app.settings, server_url=down_server_url))
    waiting_row(app, wait_item, tmp_path)
    qtbot.waitUntil(lambda: window.batch_label.text().startswith("1 of 2 files"),
                    timeout=10000)
    assert window.total_progress.value() < 1000
    assert window.total_progress.text() == "99%"


def test_a_copied_report_says_what_the_dialog_says(
        qtbot: QtBot, start_app: Any, wait_item: WaitItem, down_server_url: str,
        tmp_path: Path) -> None:
    """Not "Status: Waiting to retry" and a next try that will not come while its server is
    not the chosen one."""
    from PySide6.QtGui import QGuiApplication

    app = start_app(Settings(server_url=down_server_url))
    window, model = app.window, app.window.model
    row = waiting_row(app, wait_item, tmp_path)
    with qtbot.waitSignal(app.settings_applied, timeout=30000):
        app.apply_settings(replace(app.settings, server_url=""))
    qtbot.waitUntil(lambda: model.awaited_server(model.item(model.row_of(row.id)))
                    is not None, timeout=10000)
    dialog = window.show_details(model.item(model.row_of(row.id)))
    assert "Waiting for its server" in dialog.browser.toPlainText()
    dialog.copy_report()
    copied = QGuiApplication.clipboard().text()
    assert "Status: Waiting for its server" in copied
    assert f"Waiting for: {down_server_url}" in copied
    assert "Next automatic try" not in copied and "Next try at" not in copied
    dialog.close()
