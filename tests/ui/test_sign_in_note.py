"""The status bar's "not signed in" stays readable in the narrowest window: only the
server's address gives way to the other status bar widgets."""

from __future__ import annotations

from typing import Any

from pytestqt.qtbot import QtBot

from toolbox_uploader.core.events import ServerStatus
from toolbox_uploader.settings import Settings

NOTE = "not signed in (Settings → Sign in)"


def test_not_signed_in_is_never_cut_only_the_address_is(
        qtbot: QtBot, start_app: Any, live_server: Any) -> None:
    app = start_app(Settings(server_url=live_server.url))
    window = app.window
    # A problem notice beside it takes room too, as when the server cannot be reached.
    window.on_server_status(ServerStatus(reachable=False,
                                         message="The server cannot be reached."))
    window.resize(window.minimumWidth(), 500)
    label = window.server_label
    qtbot.waitUntil(lambda: label.width() < label.sizeHint().width(), timeout=2000)
    shown = label.shown_text()
    assert shown.endswith(NOTE) and shown.startswith("Server:") and "…" in shown
    assert label.fontMetrics().horizontalAdvance(shown) <= label.contentsRect().width()
    assert label.text() == f"Server: {live_server.url} — {NOTE}" == label.toolTip()
