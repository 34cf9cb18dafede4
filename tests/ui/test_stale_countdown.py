"""A row that is no longer waiting to retry (paused from the toolbar while offline, or
cancelled) keeps the engine's last reason, "Waiting for network, next try in 2 s.". That
countdown stopped with the pause: the report, the tooltip and what a screen reader hears
must not promise a try that will not come."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from toolbox_uploader.core.events import ItemSnapshot, Reason
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.ui import formatting as fmt
from toolbox_uploader.ui.details_dialog import report_html, report_text
from toolbox_uploader.ui.queue_model import Column, QueueModel

MakeItem = Callable[..., ItemSnapshot]
OFFLINE = Reason("offline", "Waiting for network, next try in 2 s.")
BUSY = Reason("server_busy", "The server answered 503, next try in 30 s.")


@pytest.mark.parametrize("state", [ItemState.PAUSED, ItemState.CANCELLED])
@pytest.mark.parametrize("reason", [OFFLINE, BUSY])
def test_a_stopped_row_promises_no_next_try(qapp: Any, make_item: MakeItem, state: ItemState,
                                            reason: Reason) -> None:
    item = make_item(state=state, reason=reason, bytes_sent=400, attempts=2)
    model = QueueModel()
    model.add_items([item])
    status = model.index(0, Column.STATUS)
    shown = [fmt.reason_text(item), report_html(item), report_text(item),
             str(model.data(status, 3)),  # Qt.ToolTipRole
             str(model.data(status, 11))]  # Qt.AccessibleTextRole
    for text in shown:
        assert "next try" not in text, text
    assert fmt.reason_text(item) == without(reason)


def without(reason: Reason) -> str:
    return reason.message.split(", next try")[0] + "."


def test_a_row_waiting_to_retry_still_says_when(make_item: MakeItem) -> None:
    item = make_item(state=ItemState.FAILED, reason=OFFLINE, next_attempt_at=4102444800.0)
    assert fmt.reason_text(item).startswith("Waiting for network. Next try at ")


def test_other_reasons_are_left_as_they_are(make_item: MakeItem) -> None:
    reason = Reason("empty_file", "The file is empty")
    item = make_item(state=ItemState.REJECTED, reason=reason)
    assert fmt.reason_text(item) == "The file is empty"
