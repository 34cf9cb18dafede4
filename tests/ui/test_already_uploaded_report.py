"""The report of a row found already on the server says so once, not four times (headline,
status, reason, and the engine's "Already uploaded earlier." note); its other notes stay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt

from toolbox_uploader.core.events import ALREADY_UPLOADED, ItemSnapshot, Reason
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.ui.details_dialog import report_html, report_text
from toolbox_uploader.ui.queue_model import Column, QueueModel

MakeItem = Callable[..., ItemSnapshot]
LOCATION = Reason("location_removed", "Location data will be removed from this photo.")


def already(make_item: MakeItem) -> ItemSnapshot:
    return make_item(
        state=ItemState.DONE, file_url="http://127.0.0.1:1/api/v1/files/abc",
        reason=Reason(ALREADY_UPLOADED, "Lessons/a.jpg is already on the server; not sent "
                      "again."),
        warnings=(LOCATION, Reason(ALREADY_UPLOADED, "Already uploaded earlier.")))


def test_the_report_says_it_once(make_item: MakeItem) -> None:
    item = already(make_item)
    for text in (report_html(item), report_text(item)):
        assert "Already uploaded earlier" not in text
        assert "is already on the server; not sent again." in text
        assert LOCATION.message in text  # a real note stays


def test_the_note_stays_where_nothing_else_says_it(make_item: MakeItem) -> None:
    item = make_item(state=ItemState.UPLOADING,
                     warnings=(Reason(ALREADY_UPLOADED, "Already uploaded earlier."),))
    assert "Already uploaded earlier." in report_html(item)


def test_the_row_is_green_not_amber(qtbot: Any, make_item: MakeItem) -> None:
    """Found on the server is good news: the row reads as done, not as a warning (amber
    is for notes such as location removal, which still colour the row)."""
    model = QueueModel()
    plain = make_item(
        state=ItemState.DONE, file_url="http://127.0.0.1:1/api/v1/files/abc",
        reason=Reason(ALREADY_UPLOADED, "a.txt is already on the server; not sent again."),
        warnings=(Reason(ALREADY_UPLOADED, "Already uploaded earlier."),))
    noted = already(make_item)
    model.add_items([plain, noted])
    status = model.index(model.row_of(plain.id), Column.STATUS)
    assert status.data(Qt.ItemDataRole.ForegroundRole) == model.foreground(plain, Column.STATUS)
    assert model.foreground(plain, Column.STATUS) == model._colors.success
    assert model.foreground(plain, Column.SIZE) is None
    assert "Already uploaded earlier" not in (status.data(Qt.ItemDataRole.ToolTipRole) or "")
    assert model.foreground(noted, Column.STATUS) == model._colors.warning
