"""Words a teacher reads: advice that fits the refusal, a batch that says how it ended, and
times that do not contradict themselves."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pytestqt.qtbot import QtBot

from toolbox_uploader.core.events import BatchProgress, ItemSnapshot, Reason
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.ui.bridge import EngineBridge
from toolbox_uploader.ui.details_dialog import headline_text, report_html, report_text
from toolbox_uploader.ui.filter_model import FILTER_STATES, QueueFilter
from toolbox_uploader.ui.formatting import batch_text, human_duration
from toolbox_uploader.ui.main_window import CloseChoice, MainWindow

S = ItemState
Make = Callable[..., ItemSnapshot]


def test_the_advice_fits_the_refusal(make_item: Make) -> None:
    program = make_item(state=S.REJECTED, reason=Reason(
        "executable_content", "This is a program (ELF), which cannot be uploaded."))
    too_big = make_item(state=S.REJECTED, reason=Reason(
        "too_large", "The file is 30.0 MB; Test or quiz allows at most 26.2 MB."))
    empty = make_item(state=S.REJECTED, reason=Reason("empty_file", "The file is empty."))
    assert "another category" not in report_html(program)
    assert "never uploaded, whatever the category" in report_html(program)
    assert "another category" in report_html(too_big)
    assert "another category" not in report_html(empty)
    assert "saved completely" in report_html(empty)


def test_a_settled_batch_says_how_it_ended(qtbot: QtBot) -> None:
    assert batch_text(35, 38, 9_000_000, 9_000_000, None, files_failed=3) == \
        "35 of 38 files uploaded · 3 not sent"
    assert batch_text(35, 38, 9_000_000, 9_900_000, 20.0, files_failed=2).startswith(
        "35 of 38 files · ")  # one still going
    window = MainWindow(EngineBridge())
    qtbot.addWidget(window)
    window.on_batch_progress(BatchProgress(38, 35, 3, 9_000_000, 9_000_000, 0.0, None))
    assert window.batch_label.text() == "35 of 38 files uploaded · 3 not sent"


def test_times_just_under_a_minute_read_as_a_minute() -> None:
    assert human_duration(50) == "50 s"
    assert human_duration(56) == "about 1 min"
    assert human_duration(59.9) == "about 1 min"
    assert human_duration(89) == "about 1 min"


def test_a_retry_time_is_a_clock_time_not_a_stale_countdown(make_item: Make) -> None:
    at = dt.datetime(2026, 11, 24, 14, 2, 10).timestamp()
    waiting = make_item(state=S.FAILED, retryable=True, next_attempt_at=at, reason=Reason(
        "offline", "Waiting for network, next try in 10 s."))
    assert "Waiting for network. Next try at 14:02:10." in report_html(waiting)
    assert "in 10 s" not in report_html(waiting) + report_text(waiting)
    assert headline_text(waiting) == "Not sent yet: it will be tried again by itself"
    assert "tried again by itself" in report_html(waiting)


def test_every_row_but_done_ones_is_in_to_do_or_not_sent(qtbot: QtBot, make_item: Make) -> None:
    window = MainWindow(EngineBridge())
    window.ask_on_close = lambda: CloseChoice.QUIT  # rows "upload": closing would ask
    qtbot.addWidget(window)
    window.model.add_items([make_item(state=state) for state in S])
    labels = sorted(b.text() for b in window.filter_buttons.values())
    done = window.model.count((S.DONE,))
    to_do = window.model.count(FILTER_STATES[QueueFilter.ACTIVE])
    not_sent = window.model.count(FILTER_STATES[QueueFilter.FAILED])
    assert to_do + not_sent + done == len(S)  # a cancelled row is not lost from view
    assert f"Not sent ({not_sent})" in labels and f"To do ({to_do})" in labels
    # A screen reader hears the count too, not only "Show done files".
    assert window.filter_buttons[QueueFilter.DONE].accessibleDescription() == "1 file"
    assert window.filter_buttons[QueueFilter.ALL].accessibleDescription() == f"{len(S)} files"


def test_one_file_is_not_files(qtbot: QtBot) -> None:
    from toolbox_uploader.ui.tray import batch_message

    assert batch_text(0, 1, 0, 600, None) == "0 of 1 file · 0 bytes of 600 bytes"
    assert batch_text(0, 1, 0, 600, None, files_failed=1) == "0 of 1 file uploaded · 1 not sent"
    assert batch_text(1, 2, 600, 1200, None).startswith("1 of 2 files · ")
    assert batch_message(BatchProgress(1, 1, 0, 600, 600, 0.0, None)) == (
        "Upload finished", "The file is on the server.")
    assert batch_message(BatchProgress(3, 3, 0, 900, 900, 0.0, None))[1] == \
        "All 3 files are on the server."


def test_a_file_deleted_on_the_server_since_no_longer_offers_its_link(make_item: Make) -> None:
    """Dropped again after it was deleted on the server: the old row says so and has no
    link to copy or open (the new row sends it again)."""
    from toolbox_uploader.core.events import REMOVED_FROM_SERVER
    from toolbox_uploader.ui.formatting import status_text
    from toolbox_uploader.ui.queue_model import RowAction, row_actions

    old = make_item(state=S.DONE, file_url="http://s/api/v1/files/abc", reason=Reason(
        REMOVED_FROM_SERVER, "Deleted on the server since; sent again."))
    still = make_item(state=S.DONE, file_url="http://s/api/v1/files/def")
    assert status_text(old) == "Deleted on the server"
    assert row_actions(old) == (RowAction.REMOVE,)
    assert status_text(still) == "Done"
    assert RowAction.COPY_LINK in row_actions(still)
