"""Rows that change out of sight cost the GUI thread no repaint (``QueueView.dataChanged``).

Qt repaints the whole table for a changed range of rows below or above the viewport; with
a big queue uploading far down, that was several full repaints a second, the longest GUI
stalls of ``bench/gui_responsiveness.py``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from toolbox_uploader.core.events import ItemSnapshot
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.ui.bridge import EngineBridge
from toolbox_uploader.ui.main_window import CloseChoice, MainWindow
from toolbox_uploader.ui.queue_model import Column

S = ItemState
Make = Callable[..., ItemSnapshot]


class _Paints(QObject):
    """Heights of the areas the viewport repaints."""

    def __init__(self) -> None:
        super().__init__()
        self.heights: list[int] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.heights.append(event.rect().height())  # type: ignore[attr-defined]
        return False


def _settle() -> None:
    for _ in range(5):
        QApplication.processEvents()


def test_only_rows_in_sight_are_repainted(qtbot: QtBot, make_item: Make) -> None:
    window = MainWindow(EngineBridge())
    window.ask_on_close = lambda: CloseChoice.QUIT  # rows "upload": closing would ask
    qtbot.addWidget(window)
    window.resize(1000, 600)
    window.show()
    items = [make_item(state=S.PAUSED) for _ in range(500)]
    window.model.add_items(items)
    _settle()
    view = window.view
    in_sight = view.rowAt(view.viewport().height() - 1)
    assert 5 < in_sight < 100
    paints = _Paints()
    view.viewport().installEventFilter(paints)

    def change(rows: range) -> None:
        paints.heights.clear()
        window.model.update_items([replace(items[r], state=S.UPLOADING, bytes_sent=1)
                                   for r in rows])
        _settle()

    change(range(200, 260))  # far below
    assert paints.heights == []
    change(range(in_sight - 2, in_sight + 50))  # the last rows in sight, and many below
    (height,) = paints.heights
    assert height <= 4 * view.rowHeight(0)  # those rows, not the whole table
    change(range(3, 5))
    assert len(paints.heights) == 1 and paints.heights[0] <= 3 * view.rowHeight(0)

    view.scrollTo(window.proxy.index(230, 0))  # scrolled to: painted as they are now
    _settle()
    row = window.proxy.mapFromSource(window.model.index(230, Column.STATUS)).row()
    assert view.rowAt(view.viewport().height() // 2) > 200
    assert window.proxy.index(row, Column.STATUS).data() == "Uploading"
    change(range(0, 40))  # now above the viewport
    assert paints.heights == []
