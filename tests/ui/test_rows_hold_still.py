"""Sorted by Progress (or Speed, or Time left), rows re-sort as files upload: while the
mouse is over the table they stay put, so a click lands on the row it was aimed at."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QCursor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QStyleOptionViewItem
from pytestqt.qtbot import QtBot

from toolbox_uploader.core.events import ItemSnapshot
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.ui.bridge import EngineBridge
from toolbox_uploader.ui.filter_model import QueueFilter
from toolbox_uploader.ui.main_window import CloseChoice, MainWindow
from toolbox_uploader.ui.queue_model import ActionsRole, Column, ItemIdRole, RowAction

S = ItemState
Make = Callable[..., ItemSnapshot]
MB = 1_000_000


def _window(qtbot: QtBot, make_item: Make) -> tuple[MainWindow, list[ItemSnapshot]]:
    window = MainWindow(EngineBridge())
    window.ask_on_close = lambda: CloseChoice.QUIT  # rows upload: closing would ask
    qtbot.addWidget(window)
    window.resize(1100, 500)
    items = [make_item(state=S.UPLOADING, size=10 * MB, bytes_sent=n * MB, speed=1e6, eta=9)
             for n in (6, 4, 2)]
    window.model.add_items(items)
    window.view.sortByColumn(Column.PROGRESS, Qt.SortOrder.DescendingOrder)
    window.show()
    qtbot.waitExposed(window)
    return window, items


def _order(window: MainWindow) -> list[int]:
    proxy = window.proxy
    return [proxy.index(row, 0).data(ItemIdRole) for row in range(proxy.rowCount())]


def _pause_button(window: MainWindow, row: int) -> QPoint:
    view = window.view
    cell = window.proxy.index(row, Column.ACTIONS)
    option = QStyleOptionViewItem()
    option.initFrom(view)
    buttons = dict(window.actions_delegate.button_rects(view.visualRect(cell),
                                                        cell.data(ActionsRole), option))
    return buttons[RowAction.PAUSE].center()


def test_a_click_lands_on_the_row_it_was_aimed_at(qtbot: QtBot, make_item: Make) -> None:
    window, items = _window(qtbot, make_item)
    first, second, third = items
    assert _order(window) == [first.id, second.id, third.id]
    viewport = window.view.viewport()
    pause = _pause_button(window, 1)  # the second file's Pause
    # Onto the table (the offscreen screen is 800 px wide: enter it left of the buttons).
    QTest.mouseMove(viewport, window.view.visualRect(window.proxy.index(1, 0)).center())
    qtbot.waitUntil(window.view.underMouse, timeout=2000)
    QTest.mouseMove(viewport, pause)
    clicked: list[tuple[int, str]] = []
    window.actions_delegate.action_triggered.connect(
        lambda item_id, action: clicked.append((item_id, action)))
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     pause)
    # Between press and release the third file overtakes both (a tick of the bridge).
    window.model.update_items([dataclasses.replace(third, bytes_sent=9 * MB)])
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       pause)
    assert clicked == [(second.id, RowAction.PAUSE.value)]
    assert _order(window) == [first.id, second.id, third.id]  # still where they were

    # The mouse leaves the table: every row takes its place at once.
    QTest.mouseMove(window.drop_zone, window.drop_zone.rect().center())
    qtbot.waitUntil(lambda: not window.view.underMouse(), timeout=2000)
    assert _order(window) == [third.id, first.id, second.id]


def test_a_held_row_leaves_its_filter_once_the_mouse_goes(qtbot: QtBot,
                                                          make_item: Make) -> None:
    window, items = _window(qtbot, make_item)
    window.set_filter(QueueFilter.ACTIVE)
    QTest.mouseMove(window.view.viewport(), QPoint(20, 20))
    qtbot.waitUntil(window.view.underMouse, timeout=2000)
    done = dataclasses.replace(items[0], state=S.DONE, bytes_sent=10 * MB)
    window.model.update_items([done])
    assert items[0].id in _order(window)  # not pulled away under the mouse
    QCursor.setPos(window.mapToGlobal(window.rect().bottomRight()) + QPoint(50, 50))
    window.hide()  # to the tray, the mouse still over it: no leave event may come
    assert not window.proxy.order_held
    assert _order(window) == [items[1].id, items[2].id]
