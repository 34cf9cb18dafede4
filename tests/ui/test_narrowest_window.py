"""The narrowest window the teacher can make still shows file names: every other column
keeps its minimum and Name at least ``NAME_MIN``, also with a vertical scroll bar."""

from __future__ import annotations

from collections.abc import Callable

from pytestqt.qtbot import QtBot

from toolbox_uploader.core.events import ItemSnapshot
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.ui.bridge import EngineBridge
from toolbox_uploader.ui.main_window import MainWindow
from toolbox_uploader.ui.queue_model import Column
from toolbox_uploader.ui.queue_view import COLUMN_WIDTHS, NAME_MIN

Make = Callable[..., ItemSnapshot]


def test_at_its_minimum_width_the_names_keep_their_room(qtbot: QtBot, make_item: Make) -> None:
    window = MainWindow(EngineBridge())
    qtbot.addWidget(window)
    # Enough rows for a vertical scroll bar, which takes its width from the table.
    window.model.add_items([make_item(state=ItemState.DONE, relative_path=f"Trip/IMG_{n}.jpg")
                            for n in range(2000, 2040)])
    window.resize(600, 500)  # as narrow as the window goes
    window.show()
    qtbot.waitExposed(window)
    view, header = window.view, window.view.horizontalHeader()
    qtbot.waitUntil(lambda: view.verticalScrollBar().isVisible(), timeout=2000)
    assert window.width() == window.minimumWidth()
    qtbot.waitUntil(lambda: header.sectionSize(Column.NAME) >= NAME_MIN, timeout=2000)
    assert all(header.sectionSize(c) >= minimum for c, (_, minimum) in COLUMN_WIDTHS.items())
    assert view.horizontalScrollBar().maximum() == 0  # the row buttons are in view
    # The longest statuses a row keeps for good are read whole, with their icon.
    metrics = view.fontMetrics()
    for status in ("Deleted on the server", "Already on the server", "Waiting for its server"):
        assert header.sectionSize(Column.STATUS) >= metrics.horizontalAdvance(status) + 16 + 12
