"""Failures and restarts with real parts: a server that goes away, and an app that is closed
mid-upload and opened again on the same session store."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from toolbox_uploader.core import credentials
from toolbox_uploader.core.events import ItemSnapshot
from toolbox_uploader.core.scheduler import without_countdown
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.embedded import EmbeddedServer
from toolbox_uploader.settings import Settings
from toolbox_uploader.ui.queue_model import Column, ResumedFromRole

from .test_app_uploads import click_action

S = ItemState
WaitItem = Callable[..., Any]


def test_refused_upload_fails_with_reason_and_retry_succeeds(
        qtbot: QtBot, start_app: Any, wait_item: WaitItem, tmp_path: Path) -> None:
    data_dir = tmp_path / "school-server"
    server = EmbeddedServer(ServerConfig(data_dir=data_dir, host="127.0.0.1", port=0))
    handle = server.start()
    server.stop()  # the school server is down when the teacher starts
    credentials.store_token(handle.url, handle.token)
    app = start_app(Settings(server_url=handle.url))
    assert app.target.token == handle.token and not app.target.local
    assert app.window.server_label.text() == f"Server: {handle.url}"
    sheet = tmp_path / "worksheet.txt"
    sheet.write_text("Fractions: 1/2 + 1/4 = ?\n")
    app.add_paths([sheet])
    # Wait for a failed row whose automatic retry is comfortably far away, so that the click
    # below, not the timer, is what sends it again.
    failed = wait_item(app, lambda i: i.state is S.FAILED and i.next_attempt_at is not None
                       and i.next_attempt_at - time.time() > 1.5, timeout=40)
    assert failed.reason is not None and failed.reason.message
    row = app.window.model.row_of(failed.id)
    status = app.window.model.index(row, Column.STATUS)
    assert status.data() == "Waiting for network"
    tip = status.data(Qt.ItemDataRole.ToolTipRole)
    assert without_countdown(failed.reason.message) in tip and "Next try at " in tip
    assert failed.attempts >= 1

    back = EmbeddedServer(ServerConfig(data_dir=data_dir, host="127.0.0.1", port=handle.port,
                                       token=handle.token))
    back.start()
    try:
        click_action(app, failed.id, 0)  # Retry
        done = wait_item(app, lambda i: i.state is S.DONE, timeout=20)
        assert done.attempts == 0  # reset by the retry command, not an automatic attempt
        assert done.file_url and done.file_url.startswith(handle.url)
    finally:
        app.shutdown()
        back.stop()


def test_closing_mid_upload_and_starting_again_resumes(
        qtbot: QtBot, start_app: Any, wait_item: WaitItem, tmp_path: Path) -> None:
    video = tmp_path / "lesson recording.txt"
    video.write_text(("y" * 99 + "\n") * 120_000)  # 12 MB: sent with tus, resumable
    first = start_app(Settings(bandwidth_limit_kib=1024))
    first.add_paths([video])
    # Past the first chunk (3 s at this limit), which the server has then confirmed.
    item = wait_item(first, lambda i: i.state is S.UPLOADING and i.bytes_sent > 4_000_000)
    with qtbot.waitSignal(first.stopped, timeout=15000):
        first.window.close()  # uploads running: the test's answer is "quit"
    assert first.engine is None and first.local_server is None

    second = start_app(Settings(bandwidth_limit_kib=4096))  # slow enough to watch
    uploading: list[ItemSnapshot] = []
    second.bridge.items_changed.connect(
        lambda items: uploading.extend(i for i in items if i.state is S.UPLOADING))
    # The row says where it carried on from: the server's offset, not the first run's count.
    resumed = wait_item(second, lambda i: i.id == item.id and i.state is S.UPLOADING
                        and i.resumed_from is not None)
    row = second.window.model.row_of(item.id)
    resumed_from = second.window.model.index(row, Column.NAME).data(ResumedFromRole)
    assert resumed_from == resumed.resumed_from
    assert 1_000_000 <= resumed_from < video.stat().st_size
    assert second.window.model.index(row, Column.STATUS).data().startswith("Resumed at")
    done = wait_item(second, lambda i: i.state is S.DONE, timeout=30)
    assert done.id == item.id and done.file_url
    # The same tus upload carried on (a fresh start would have created a new one) ...
    assert item.upload_url and done.upload_url
    assert done.upload_url.rsplit("/", 1)[1] == item.upload_url.rsplit("/", 1)[1]
    # ... from the server's offset rather than from the first byte.
    # (The server keeps what it received; bytes still in socket buffers at the close are
    # sent again, so the exact figure is below what the first run had counted.)
    assert all(i.bytes_sent > 0 for i in uploading), [i.bytes_sent for i in uploading]
