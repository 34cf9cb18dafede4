"""An open Details window follows its row: a file that gets through while the teacher reads
its report shows "on the server" and its link there, not the state it was opened in."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot

from toolbox_uploader.core.states import ItemState
from toolbox_uploader.ui.queue_model import Column

S = ItemState
WaitItem = Callable[..., Any]


def test_an_open_report_follows_its_row_to_done(qtbot: QtBot, start_app: Any,
                                               wait_item: WaitItem, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<html><body><script>alert(1)</script></body></html>")
    app = start_app()
    app.add_paths([page], "avatar")
    refused = wait_item(app, lambda i: i.state is S.REJECTED)
    dialog = app.window.show_details(refused)
    assert refused.reason is not None
    assert refused.reason.message in dialog.browser.toPlainText()
    model = app.window.model
    assert model.setData(model.index(model.row_of(refused.id), Column.CATEGORY), "temporary")
    done = wait_item(app, lambda i: i.state is S.DONE)
    assert done.file_url
    qtbot.waitUntil(lambda: done.file_url in dialog.browser.toPlainText(), timeout=5000)
    assert dialog.headline.text() == "This file is on the server"
    assert "Temporary (scratch)" in dialog.browser.toPlainText()
    assert dialog.item.state is S.DONE  # what "Copy report" copies
    assert app.window.show_details(done) is dialog  # the same report, brought forward
    dialog.close()
