"""An open Details dialog follows a change of server, not only a change of its row: a done
row of the built-in server says its link is dead while a school server is chosen (and no
longer once the built-in server is back), an unfinished one says it waits for its server."""

from __future__ import annotations

from collections.abc import Callable

from pytestqt.qtbot import QtBot

from toolbox_uploader.core.events import ItemSnapshot
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.ui.bridge import EngineBridge
from toolbox_uploader.ui.details_dialog import DEAD_LINK_NOTE, WAITING_FOR_SERVER
from toolbox_uploader.ui.main_window import CloseChoice, MainWindow

S = ItemState
Make = Callable[..., ItemSnapshot]
SCHOOL = "https://files.school.example"


def test_an_open_report_follows_a_change_of_server(qtbot: QtBot, make_item: Make) -> None:
    window = MainWindow(EngineBridge())
    window.ask_on_close = lambda: CloseChoice.QUIT  # a row "uploads": closing would ask
    qtbot.addWidget(window)
    done = make_item(state=S.DONE, server="local",
                     file_url="http://127.0.0.1:8765/api/v1/files/abc")
    paused = make_item(state=S.READY, size=9_000_000, bytes_sent=1_000_000, server="local")
    window.model.add_items([done, paused])
    window.model.set_current_server("local")
    link_report = window.show_details(done)
    wait_report = window.show_details(paused)
    assert DEAD_LINK_NOTE not in link_report.browser.toPlainText()
    assert WAITING_FOR_SERVER not in wait_report.browser.toPlainText()

    window.model.set_current_server(SCHOOL)  # Settings: the school server is chosen
    assert DEAD_LINK_NOTE in link_report.browser.toPlainText()
    assert not link_report.link_works
    assert WAITING_FOR_SERVER in wait_report.browser.toPlainText()
    assert wait_report.headline.text().startswith("Waiting for")

    window.model.set_current_server("local")  # and back
    assert DEAD_LINK_NOTE not in link_report.browser.toPlainText()
    assert WAITING_FOR_SERVER not in wait_report.browser.toPlainText()
