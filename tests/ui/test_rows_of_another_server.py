"""Rows queued for a server the teacher has since switched away from: they say they wait
for that server, and nothing treats them as uploads in progress (no "Pause all", no
"still uploading" question on close, no time left promised)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from toolbox_uploader.core.events import BatchProgress, ItemSnapshot, Reason
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.ui.bridge import EngineBridge
from toolbox_uploader.ui.main_window import CloseChoice, MainWindow
from toolbox_uploader.ui.queue_model import ActionsRole, Column, RowAction
from toolbox_uploader.ui.row_menu import menu_entries

S = ItemState
Make = Callable[..., ItemSnapshot]
SCHOOL = "https://files.school.example"


def status(window: MainWindow, item: ItemSnapshot,
           role: Qt.ItemDataRole = Qt.ItemDataRole.DisplayRole) -> Any:
    return window.model.index(window.model.row_of(item.id), Column.STATUS).data(role)


def test_rows_of_the_server_left_behind_wait_for_it(qtbot: QtBot, make_item: Make) -> None:
    window = MainWindow(EngineBridge())
    window.ask_on_close = lambda: CloseChoice.QUIT  # rows "upload": closing would ask
    qtbot.addWidget(window)
    video = make_item(state=S.READY, size=26_000_000, bytes_sent=4_000_000, server="local")
    retry = make_item(state=S.FAILED, next_attempt_at=time.time() + 60, server="local")
    window.model.add_items([video, retry])
    window.model.set_current_server("local")
    assert window.uploads_running and window.pause_all_action.isEnabled()
    assert window.model.waiting_to_retry() == 1

    window.model.set_current_server(SCHOOL)  # the teacher chose the school server
    assert status(window, video) == "Waiting for its server"
    assert "the built-in server" in status(window, video, Qt.ItemDataRole.ToolTipRole)
    assert status(window, retry) == "Waiting for its server"
    assert window.model.waiting_for_server() == 2 and window.model.waiting_to_retry() == 0
    window.on_batch_progress(BatchProgress(2, 0, 0, 27_000_000, 4_000_000, 0.0, 90.0))
    assert not window.uploads_running and not window.pause_all_action.isEnabled()
    assert "left" not in window.batch_label.text()

    sheet = make_item(state=S.UPLOADING, size=2_000_000, server=SCHOOL)
    window.model.add_items([sheet])
    assert window.unfinished_uploads == 1 and status(window, sheet) == "Uploading"
    window.model.update_items([replace(sheet, state=S.DONE)])
    assert window.unfinished_uploads == 0

    window.model.set_current_server("local")  # and back: they are plain work again
    assert status(window, video) != "Waiting for its server"
    assert window.unfinished_uploads == 2 and window.model.waiting_for_server() == 0


def test_a_failed_row_waiting_for_its_server_is_not_shown_as_an_error(
        qtbot: QtBot, make_item: Make) -> None:
    window = MainWindow(EngineBridge())
    qtbot.addWidget(window)
    retry = make_item(state=S.FAILED, next_attempt_at=time.time() + 60, server="local")
    window.model.add_items([retry])
    window.model.set_current_server("local")
    row = window.model.row_of(retry.id)
    assert window.model.index(row, Column.STATUS).data(Qt.ItemDataRole.BackgroundRole)
    window.model.set_current_server(SCHOOL)
    assert window.model.index(row, Column.STATUS).data(Qt.ItemDataRole.BackgroundRole) is None
    assert window.model.index(row, Column.STATUS).data(Qt.ItemDataRole.ForegroundRole) is None


def test_a_row_waiting_for_its_server_offers_no_retry(qtbot: QtBot, make_item: Make) -> None:
    """It is tried again by itself once its server is chosen; a Retry (or "Retry failed")
    now would change nothing the teacher could see."""
    window = MainWindow(EngineBridge())
    qtbot.addWidget(window)
    retry = make_item(state=S.FAILED, next_attempt_at=time.time() + 60, server="local")
    window.model.add_items([retry])
    window.model.set_current_server("local")
    actions = window.model.index(window.model.row_of(retry.id), Column.ACTIONS)
    assert RowAction.RETRY in actions.data(ActionsRole)
    assert window.retry_failed_action.isEnabled()

    with qtbot.waitSignal(window.model.dataChanged) as changed:
        window.model.set_current_server(SCHOOL)
    assert changed.args[1].column() == Column.ACTIONS  # the buttons are painted again
    assert actions.data(ActionsRole) == (RowAction.WHY, RowAction.REMOVE)
    assert "Retry" not in actions.data(Qt.ItemDataRole.AccessibleTextRole)
    assert [e.action for e in menu_entries(retry, [], window.model.actions)] == [
        RowAction.WHY, RowAction.REMOVE]
    assert not window.retry_failed_action.isEnabled()

    stopped = make_item(state=S.FAILED, server="local")  # given up for good: Retry it is
    window.model.add_items([stopped])
    row = window.model.row_of(stopped.id)
    assert RowAction.RETRY in window.model.index(row, Column.ACTIONS).data(ActionsRole)
    assert window.retry_failed_action.isEnabled()


def test_the_report_of_a_row_waiting_for_its_server_says_so(qtbot: QtBot,
                                                            make_item: Make) -> None:
    """Not its last countdown ("next try in 1 s", stopped since) nor "Press Retry"."""
    window = MainWindow(EngineBridge())
    qtbot.addWidget(window)
    retry = make_item(state=S.FAILED, next_attempt_at=time.time() + 1, server="local",
                      reason=Reason("offline", "Waiting for network, next try in 1 s."))
    window.model.add_items([retry])
    window.model.set_current_server(SCHOOL)
    dialog = window.show_details(retry)
    report = dialog.browser.toPlainText()
    assert dialog.headline.text() == "Waiting for the built-in server"
    assert "sent to the built-in server when that server is chosen again" in report
    assert "next try" not in report and "Retry" not in report
    assert "next try" not in status(window, retry, Qt.ItemDataRole.ToolTipRole)
    dialog.close()


def test_links_of_the_built_in_server_are_not_offered_while_it_is_not_running(
        qtbot: QtBot, make_item: Make) -> None:
    """The built-in server runs only while it is chosen: a copied link would be dead in the
    message it was pasted into. A school server's links work whichever server is chosen."""
    window = MainWindow(EngineBridge())
    qtbot.addWidget(window)
    local = make_item(state=S.DONE, server="local",
                      file_url="http://127.0.0.1:8765/api/v1/files/abc/content")
    school = make_item(state=S.DONE, server=SCHOOL,
                       file_url=f"{SCHOOL}/api/v1/files/def/content")
    window.model.add_items([local, school])
    window.model.set_current_server("local")
    linked = (RowAction.COPY_LINK, RowAction.OPEN, RowAction.REMOVE)
    assert window.model.actions(local) == linked and window.model.actions(school) == linked

    window.model.set_current_server(SCHOOL)
    assert window.model.actions(local) == (RowAction.REMOVE,)
    assert window.model.actions(school) == linked
    row = window.model.row_of(local.id)
    assert window.model.index(row, Column.ACTIONS).data(ActionsRole) == (RowAction.REMOVE,)
    assert [entry.action for entry in menu_entries(local, [local], window.model.actions)
            if entry.action in (RowAction.COPY_LINK, RowAction.OPEN)] == []
    report = window.show_details(local).browser.toPlainText()
    assert "works while the built-in server is chosen" in report
    assert "built-in server" not in window.show_details(school).browser.toPlainText()

    window.model.set_current_server("local")  # chosen again: the link works again
    assert window.model.actions(local) == linked
