"""A row paused because the server wants a sign-in: its report says what carries it on
(signing in; its button is Resume, there is no Retry), and that is what happens. Real app,
engine and server; the sign-in goes through the settings dialog."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot

from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import ServerHandle
from toolbox_uploader.settings import Settings
from toolbox_uploader.ui.queue_model import RowAction

S = ItemState
WaitItem = Callable[..., Any]


def test_a_row_paused_for_sign_in_says_to_sign_in_not_to_retry(
        qtbot: QtBot, start_app: Any, wait_item: WaitItem, live_server: ServerHandle,
        tmp_path: Path) -> None:
    app = start_app(Settings(server_url=live_server.url))  # no token kept for it yet
    sheet = tmp_path / "worksheet.txt"
    sheet.write_text("Fractions: 1/2 + 1/4 = ?\n")
    app.add_paths([sheet])
    row = wait_item(app, lambda i: i.state is S.PAUSED and i.reason is not None
                    and i.reason.code == "sign_in_needed", timeout=30)
    assert RowAction.RETRY not in app.window.model.actions(row)
    dialog = app.window.show_details(row)
    report = dialog.browser.toPlainText()
    assert "Retry" not in report
    assert "Sign in to the server" in report and "carries on by itself" in report
    dialog.close()

    settings = app.open_settings()
    settings.token.setText(live_server.token)
    settings.on_sign_in()
    settings.reject()
    wait_item(app, lambda i: i.id == row.id and i.state is S.DONE, timeout=30)
