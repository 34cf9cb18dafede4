"""An open Details window whose row leaves the queue says so, instead of showing a file
still queued (with advice for buttons that are gone)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from toolbox_uploader.core.states import ItemState
from toolbox_uploader.ui.details_dialog import REMOVED_HEADLINE
from toolbox_uploader.ui.queue_model import RowAction

S = ItemState
WaitItem = Callable[..., Any]


def test_a_report_open_when_its_row_is_cleared_says_it_was_removed(
        qtbot: QtBot, start_app: Any, wait_item: WaitItem, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<html><body><script>alert(1)</script></body></html>")
    app = start_app()
    app.add_paths([page], "avatar")
    refused = wait_item(app, lambda i: i.state is S.REJECTED)
    app.window.on_row_action(refused.id, RowAction.WHY.value)
    dialog = app.window._details[refused.id]
    app.window.on_clear_finished()
    qtbot.waitUntil(lambda: dialog.headline.text() == REMOVED_HEADLINE, timeout=5000)
    assert app.window.model.row_of(refused.id) is None
    assert "removed from the queue" in dialog.windowTitle()
    assert dialog.isVisible()  # still there to read: the reason it was refused
    assert refused.reason is not None
    assert refused.reason.message in dialog.browser.toPlainText()
    dialog.copy_report()
    assert QGuiApplication.clipboard().text().startswith(f"{REMOVED_HEADLINE}.\n")
    assert refused.id not in app.window._details  # it follows nothing any more
    dialog.close()
