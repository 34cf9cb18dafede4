"""A small laptop screen: every column, above all the row buttons, stays in view, and the
status bar shortens a long server folder with an ellipsis instead of cutting it off."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtWidgets import QHeaderView
from pytestqt.qtbot import QtBot

from toolbox_uploader.core.events import BatchProgress, ItemSnapshot, Reason
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.ui.bridge import EngineBridge
from toolbox_uploader.ui.main_window import CloseChoice, MainWindow
from toolbox_uploader.ui.progress_delegate import folder_hint
from toolbox_uploader.ui.queue_model import Column
from toolbox_uploader.ui.queue_view import fitted_widths

S = ItemState
Make = Callable[..., ItemSnapshot]
SERVER_TEXT = ("Local server — files kept in "
               "/home/ms.rivera/.local/share/toolbox-uploader/server")
SQUEEZED = (Column.CATEGORY, Column.SIZE, Column.STATUS, Column.PROGRESS, Column.SPEED,
            Column.ETA)


def queue_window(qtbot: QtBot, make_item: Make, width: int, height: int) -> MainWindow:
    """The window with a realistic queue (no engine: commands are ignored)."""
    window = MainWindow(EngineBridge())
    window.ask_on_close = lambda: CloseChoice.QUIT  # rows "upload": closing would ask
    qtbot.addWidget(window)
    window.set_server_text(SERVER_TEXT)
    window.model.add_items([
        make_item(state=S.UPLOADING, size=26_000_000, bytes_sent=4_000_000, speed=9e5, eta=25,
                  relative_path="Year 9 Geography/River survey lecture recording.txt"),
        make_item(state=S.PAUSED, size=26_000_000, bytes_sent=2_000_000),
        make_item(state=S.FAILED, size=12_000_000, retryable=True,
                  next_attempt_at=time.time() + 60,
                  reason=Reason("server_unreachable", "The server could not be reached.")),
        make_item(state=S.REJECTED, reason=Reason("executable", "Programs are not allowed.")),
    ])
    window.on_batch_progress(BatchProgress(4, 0, 1, 64_000_000, 6_000_000, 9e5, 60.0))
    window.resize(width, height)
    window.show()
    qtbot.waitExposed(window)
    return window


def right_edge(window: MainWindow) -> int:
    header = window.view.horizontalHeader()
    return header.sectionViewportPosition(Column.ACTIONS) + header.sectionSize(Column.ACTIONS)


def test_at_800_by_500_every_column_fits_and_the_path_is_elided(qtbot: QtBot,
                                                                make_item: Make) -> None:
    window = queue_window(qtbot, make_item, 800, 500)
    view, header = window.view, window.view.horizontalHeader()
    qtbot.waitUntil(lambda: right_edge(window) <= view.viewport().width(), timeout=2000)
    assert view.horizontalScrollBar().maximum() == 0  # nothing to scroll to
    assert header.sectionSize(Column.ACTIONS) == window.actions_delegate.column_width(view)
    assert header.sectionSize(Column.NAME) >= 120
    assert all(header.sectionSize(c) >= 60 for c in SQUEEZED)
    # The longest status a row has for long, with its icon, is read whole, not "Waiting
    # for its …" (the word that matters last).
    status = window.view.fontMetrics().horizontalAdvance("Waiting for its server")
    assert header.sectionSize(Column.STATUS) >= status + 16 + 4 * 3  # icon, gaps, margins
    label = window.server_label
    shown = label.shown_text()
    assert "…" in shown and shown.startswith("Local server") and shown.endswith("/server")
    assert label.fontMetrics().horizontalAdvance(shown) <= label.contentsRect().width()
    assert label.text() == SERVER_TEXT == label.toolTip()  # whole for copying and reading


def test_a_wide_window_keeps_the_teachers_widths(qtbot: QtBot, make_item: Make) -> None:
    window = queue_window(qtbot, make_item, 1240, 700)
    header = window.view.horizontalHeader()
    defaults = {c: header.sectionSize(c) for c in SQUEEZED}
    assert defaults[Column.CATEGORY] == 150 and defaults[Column.STATUS] == 190
    assert header.sectionResizeMode(Column.NAME) is QHeaderView.ResizeMode.Stretch
    header.resizeSection(Column.CATEGORY, 200)  # what dragging the header edge does
    window.resize(800, 500)
    qtbot.waitUntil(lambda: header.sectionSize(Column.CATEGORY) < 150, timeout=2000)
    window.save_window_state()  # saved while squeezed ...
    window.resize(1240, 700)
    qtbot.waitUntil(lambda: header.sectionSize(Column.CATEGORY) == 200, timeout=2000)
    assert all(header.sectionSize(c) == defaults[c] for c in SQUEEZED if c != Column.CATEGORY)
    again = MainWindow(EngineBridge())  # ... and the next start still knows the choice
    qtbot.addWidget(again)
    again.restore_window_state()
    again.resize(1240, 700)
    again.show()
    qtbot.waitExposed(again)
    qtbot.waitUntil(
        lambda: again.view.horizontalHeader().sectionSize(Column.CATEGORY) == 200, timeout=2000)


def test_fitted_widths_give_way_in_proportion() -> None:
    assert fitted_widths(500, [200, 100], [100, 50]) == [200, 100]
    assert fitted_widths(225, [200, 100], [100, 50]) == [150, 75]
    assert fitted_widths(10, [200, 100], [100, 50]) == [100, 50]
    assert fitted_widths(100, [80, 100], [100, 50]) == [80, 50]  # narrower than the minimum


def test_a_folder_too_squeezed_to_say_anything_is_left_out(qtbot: QtBot) -> None:
    window = MainWindow(EngineBridge())
    qtbot.addWidget(window)
    metrics = window.view.fontMetrics()
    folder = "Year 7 Science/Week 1"
    whole = metrics.horizontalAdvance(folder)
    assert folder_hint(metrics, folder, whole) == folder
    end = folder_hint(metrics, folder, whole // 2)
    assert end.startswith("…") and end.endswith("Week 1")
    assert folder_hint(metrics, folder, metrics.horizontalAdvance("…ce")) == ""  # not "…ce"
    photos = "Year 7 Science/Photos"  # "…hotos" is no better than nothing
    assert folder_hint(metrics, photos, metrics.horizontalAdvance("…Photos") - 1) == ""
    assert folder_hint(metrics, photos, metrics.horizontalAdvance("…Photos") + 1) == "…Photos"
    assert folder_hint(metrics, "Trip", metrics.horizontalAdvance("Trip")) == "Trip"
