"""A row waiting for the network counts down to its next try, second by second, with no
new snapshot from the engine (which sends one per try, not per second). Real app, engine
and an unreachable server."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from toolbox_uploader.core.states import ItemState
from toolbox_uploader.settings import Settings
from toolbox_uploader.ui import formatting as fmt
from toolbox_uploader.ui.filter_model import QueueFilter
from toolbox_uploader.ui.queue_model import Column
from toolbox_uploader.ui.queue_view import COLUMN_WIDTHS

WaitItem = Callable[..., Any]


def countdown(app: Any, item_id: int) -> int | None:
    """The seconds the row's time-left cell shows as it is painted (through the proxy)."""
    window = app.window
    row = window.model.row_of(item_id)
    index = window.proxy.mapFromSource(window.model.index(row, Column.ETA))
    match = re.fullmatch(r"retry in (\d+) s", str(index.data()))
    return int(match[1]) if match else None


def test_a_row_waiting_for_the_network_counts_down(
        qtbot: QtBot, start_app: Any, wait_item: WaitItem, down_server_url: str,
        tmp_path: Path) -> None:
    app = start_app(Settings(server_url=down_server_url))
    sheet = tmp_path / "worksheet.txt"
    sheet.write_text("Fractions: 1/2 + 1/4 = ?\n")
    app.add_paths([sheet])
    waiting = wait_item(app, lambda i: i.state is ItemState.FAILED
                        and i.next_attempt_at is not None
                        and i.next_attempt_at - time.time() > 3, timeout=60)
    model = app.window.model
    row = model.row_of(waiting.id)
    assert model.index(row, Column.STATUS).data() == "Waiting for network"
    first = countdown(app, waiting.id)
    assert first is not None and first >= 3
    # Also through a sorted and filtered proxy (the countdown changes no sort key).
    app.window.view.sortByColumn(Column.ETA, Qt.SortOrder.AscendingOrder)
    app.window.set_filter(QueueFilter.FAILED)
    qtbot.waitUntil(lambda: (countdown(app, waiting.id) or first) < first, timeout=3000)
    assert model.item(model.row_of(waiting.id)) is waiting  # the same snapshot: the clock
    # A screen reader hears the reason once, not "Waiting for network: Waiting for network".
    spoken = model.index(row, Column.STATUS).data(Qt.ItemDataRole.AccessibleTextRole)
    assert spoken.startswith("Waiting for network. Next try at "), spoken


def test_the_countdown_fits_the_narrowest_time_left_column(qapp: Any) -> None:
    """Elided to "next try in …", the number (all that changes) would be the part lost."""
    from PySide6.QtWidgets import QStyle, QTableView

    view = QTableView()
    metrics = view.fontMetrics()
    margin = view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view) + 1
    room = COLUMN_WIDTHS[Column.ETA][1] - 2 * margin
    now = time.time()
    for seconds in (59, 600 - 1, 3600, 23 * 3600):
        text = fmt.next_try_text(now + seconds, now)
        assert metrics.horizontalAdvance(text) <= room, text
