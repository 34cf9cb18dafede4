"""The progress cell as painted: a row waiting for a slot with part of its file on the server
keeps its bar (resumed after a pause, back in the queue after a restart); rows with nothing
sent, and finished rows, have none."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from toolbox_uploader.core.events import ItemSnapshot
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.ui.bridge import EngineBridge
from toolbox_uploader.ui.main_window import CloseChoice, MainWindow
from toolbox_uploader.ui.progress_delegate import folder_hint
from toolbox_uploader.ui.queue_model import Column

S = ItemState
Make = Callable[..., ItemSnapshot]
MB = 1_000_000


def _colours(image: QImage) -> int:
    """Distinct colours in a cell: a blank cell has its background only, a bar many more."""
    return len({image.pixel(x, y) for x in range(image.width())
                for y in range(image.height())})


def test_a_row_waiting_with_bytes_on_the_server_keeps_its_bar(qtbot: QtBot,
                                                              make_item: Make) -> None:
    window = MainWindow(EngineBridge())
    window.ask_on_close = lambda: CloseChoice.QUIT  # rows to do: closing would ask
    qtbot.addWidget(window)
    window.resize(1100, 500)
    rows = {
        "resumed, waiting for a slot": make_item(state=S.READY, size=7 * MB,
                                                 bytes_sent=3 * MB),
        "back in the queue after a restart": make_item(state=S.QUEUED, size=7 * MB,
                                                       bytes_sent=2 * MB),
        "paused": make_item(state=S.PAUSED, size=7 * MB, bytes_sent=3 * MB),
        "not started": make_item(state=S.READY, size=7 * MB),
        "done": make_item(state=S.DONE, size=7 * MB, bytes_sent=7 * MB),
    }
    window.model.add_items(list(rows.values()))
    window.show()
    qtbot.waitExposed(window)
    view = window.view

    def cell(item: ItemSnapshot) -> QImage:
        row = window.model.row_of(item.id)
        assert row is not None
        index = window.proxy.mapFromSource(window.model.index(row, Column.PROGRESS))
        view.viewport().repaint()
        return view.viewport().grab(view.visualRect(index)).toImage()

    blank = _colours(cell(rows["not started"]))
    assert blank <= 2
    assert _colours(cell(rows["done"])) <= 2
    for what in ("resumed, waiting for a slot", "back in the queue after a restart", "paused"):
        assert _colours(cell(rows[what])) > blank + 2, what


def test_a_squeezed_folder_is_cut_between_folders(qtbot: QtBot) -> None:
    """"…nce/Week 1" (the end of "Year 7 Science") reads as a folder called "nce": the hint
    keeps whole folder names only."""
    window = MainWindow(EngineBridge())
    qtbot.addWidget(window)
    metrics = window.view.fontMetrics()
    folder = "Year 7 Science/Week 1/Field trip"
    room = metrics.horizontalAdvance("…nce/Week 1/Field trip")
    assert folder_hint(metrics, folder, room) == "…Week 1/Field trip"
    room = metrics.horizontalAdvance("…Science/Week 1/Field trip")
    assert folder_hint(metrics, folder, room) == "…Week 1/Field trip"
    room = metrics.horizontalAdvance("…Year 7 Science/Week 1/Field trip")
    assert folder_hint(metrics, folder, room) == folder
    room = metrics.horizontalAdvance("…k 1/Field trip")
    assert folder_hint(metrics, folder, room) == "…Field trip"
