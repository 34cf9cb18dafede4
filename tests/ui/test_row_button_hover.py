"""A row button's raised hover panel goes away once the mouse leaves it, whether to another
cell of the table or out of the table, as a real button's would."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QRect
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QStyleOptionViewItem
from pytestqt.qtbot import QtBot

from toolbox_uploader.core.states import ItemState
from toolbox_uploader.ui.queue_model import ActionsRole, Column

WaitItem = Callable[..., Any]


def test_the_hover_panel_follows_the_mouse(qtbot: QtBot, start_app: Any, wait_item: WaitItem,
                                           tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("Bring microscopes on Monday.\n")
    app = start_app()
    app.add_paths([tmp_path / "notes.txt"])
    item = wait_item(app, lambda i: i.state is ItemState.DONE and i.file_url)
    window = app.window
    window.resize(1000, 560)
    view, viewport = window.view, window.view.viewport()
    row = window.model.row_of(item.id)
    cell = window.proxy.mapFromSource(window.model.index(row, Column.ACTIONS))
    speed = window.proxy.mapFromSource(window.model.index(row, Column.SPEED))
    option = QStyleOptionViewItem()
    option.initFrom(view)
    buttons = window.actions_delegate.button_rects(view.visualRect(cell),
                                                   cell.data(ActionsRole), option)
    copy_link: QRect = buttons[0][1]

    def button() -> QImage:
        viewport.repaint()
        return viewport.grab(copy_link).toImage()

    plain = button()
    QTest.mouseMove(viewport, copy_link.center())
    assert button() != plain  # the raised panel under the mouse
    QTest.mouseMove(viewport, view.visualRect(speed).center())
    assert button() == plain  # to another cell of the same row
    QTest.mouseMove(viewport, copy_link.center())
    assert button() != plain
    QTest.mouseMove(window.drop_zone, window.drop_zone.rect().center())
    assert button() == plain  # out of the table
