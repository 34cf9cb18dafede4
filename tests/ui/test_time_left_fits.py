"""Every text of the Time left column is read whole in the narrowest window: a time too
wide for its cell is said in fewer letters ("under 10 s", "1 h 20 min"), never cut by Qt
("a few secon…", "about 1 h 2…"), and keeps its full wording where it fits."""

from __future__ import annotations

import time
from collections.abc import Callable

from pytestqt.qtbot import QtBot

from toolbox_uploader.core.events import ItemSnapshot, Reason
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.ui import formatting as fmt
from toolbox_uploader.ui.bridge import EngineBridge
from toolbox_uploader.ui.main_window import CloseChoice, MainWindow
from toolbox_uploader.ui.queue_model import Column

S = ItemState
Make = Callable[..., ItemSnapshot]
OFFLINE = Reason("offline", "The server cannot be reached.")


def _painted_time_left(window: MainWindow) -> dict[int, tuple[str, int, int]]:
    """Per row id: the Time left text the delegate paints, its width and the cell's room."""
    from PySide6.QtWidgets import QStyle, QStyleOptionViewItem

    view = window.view
    model = view.model()
    margin = view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view) + 1
    found: dict[int, tuple[str, int, int]] = {}
    for row in range(model.rowCount()):
        index = model.index(row, Column.ETA)
        option = QStyleOptionViewItem()
        option.font, option.fontMetrics, option.widget = view.font(), view.fontMetrics(), view
        option.rect = view.visualRect(index)
        view.itemDelegateForIndex(index).initStyleOption(option, index)
        item_id = window.model.item(row).id  # not sorted or filtered: same rows
        found[item_id] = (option.text, option.fontMetrics.horizontalAdvance(option.text),
                          option.rect.width() - 2 * margin)
    return found


def _window(qtbot: QtBot, make_item: Make, width: int) -> tuple[MainWindow, dict[str, int]]:
    window = MainWindow(EngineBridge())
    window.ask_on_close = lambda: CloseChoice.QUIT  # rows still to upload: do not ask
    qtbot.addWidget(window)
    now = time.time()
    rows = {
        "seconds": make_item(state=S.UPLOADING, size=10**9, bytes_sent=10**8, eta=5.0),
        "minutes": make_item(state=S.UPLOADING, size=10**9, bytes_sent=10**8, eta=59 * 60.0),
        "hour": make_item(state=S.UPLOADING, size=10**9, bytes_sent=10**8, eta=80 * 60.0),
        "day": make_item(state=S.UPLOADING, size=10**9, bytes_sent=10**8,
                         eta=23 * 3600 + 59 * 60.0),
        "retry in s": make_item(state=S.FAILED, reason=OFFLINE, next_attempt_at=now + 58.5),
        "retry in min": make_item(state=S.FAILED, reason=OFFLINE, next_attempt_at=now + 530),
        "retry at": make_item(state=S.FAILED, reason=OFFLINE, next_attempt_at=now + 3 * 3600),
        "retrying": make_item(state=S.FAILED, reason=OFFLINE, next_attempt_at=now - 1),
    }
    window.model.add_items(list(rows.values()))
    window.resize(width, 500)
    window.show()
    qtbot.waitExposed(window)
    return window, {name: item.id for name, item in rows.items()}


def test_the_narrowest_window_reads_every_time_left_whole(qtbot: QtBot,
                                                          make_item: Make) -> None:
    window, ids = _window(qtbot, make_item, 600)  # as narrow as the window goes
    assert window.width() == window.minimumWidth()
    painted = _painted_time_left(window)
    for name, item_id in ids.items():
        text, width, room = painted[item_id]
        assert text and width <= room, (name, text, width, room)
    assert painted[ids["seconds"]][0] in ("a few seconds", "under 10 s")
    assert painted[ids["hour"]][0] in ("about 1 h 20 min", "1 h 20 min")
    assert painted[ids["day"]][0] in ("about 23 h 59 min", "23 h 59 min")
    assert painted[ids["retry in s"]][0] == "retry in 59 s"
    assert painted[ids["retry in min"]][0] == "retry in 9 min"


def test_a_wide_window_keeps_the_full_wording(qtbot: QtBot, make_item: Make) -> None:
    window, ids = _window(qtbot, make_item, 1400)
    window.view.horizontalHeader().resizeSection(Column.ETA, 160)  # as a teacher drags it
    painted = _painted_time_left(window)
    assert painted[ids["seconds"]][0] == "a few seconds"
    assert painted[ids["hour"]][0] == "about 1 h 20 min"
    assert painted[ids["minutes"]][0] == "about 59 min"


def test_the_shorter_wordings_keep_number_and_unit() -> None:
    assert fmt.shorter_time_left("a few seconds") == "under 10 s"
    assert fmt.shorter_time_left("about 1 h 20 min") == "1 h 20 min"
    assert fmt.shorter_time_left("retry at 13:20") == "at 13:20"
    for text in ("50 s", "retry in 12 s", "retrying…", ""):
        assert fmt.shorter_time_left(text) is None
