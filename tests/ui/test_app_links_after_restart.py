"""Links of files on the built-in server still work after the app is opened again."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from toolbox_uploader import paths
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import read_port
from toolbox_uploader.ui.queue_model import RowAction

S = ItemState
WaitItem = Callable[..., Any]


def _upload_and_quit(qtbot: QtBot, start_app: Any, wait_item: WaitItem, sheet: Path) -> int:
    first = start_app()
    first.add_paths([sheet])
    done = wait_item(first, lambda i: i.state is S.DONE)
    with qtbot.waitSignal(first.stopped, timeout=15000):
        first.window.request_quit()
    return int(done.id)


def _copied_link(app: Any, item_id: int) -> str:
    app.window.on_row_action(item_id, RowAction.COPY_LINK.value)
    return QGuiApplication.clipboard().text()


def _fetch(link: str, token: str) -> int:
    return httpx.get(link, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code


def test_a_copied_link_works_after_a_restart(qtbot: QtBot, start_app: Any,
                                             wait_item: WaitItem, tmp_path: Path) -> None:
    sheet = tmp_path / "fractions worksheet.txt"
    sheet.write_text("1/2 + 1/4 = ?\n" * 20)
    item_id = _upload_and_quit(qtbot, start_app, wait_item, sheet)

    second = start_app()
    wait_item(second, lambda i: i.id == item_id and i.state is S.DONE)
    link = _copied_link(second, item_id)
    assert link.startswith(second.target.url + "/")
    assert _fetch(link, second.target.token) == 200


def test_when_the_old_port_is_taken_links_follow_the_server(
        qtbot: QtBot, start_app: Any, wait_item: WaitItem, tmp_path: Path) -> None:
    sheet = tmp_path / "spelling list.txt"
    sheet.write_text("necessary, separate, rhythm\n")
    item_id = _upload_and_quit(qtbot, start_app, wait_item, sheet)
    old_port = read_port(paths.local_server_port_path())
    assert old_port is not None

    with socket.socket() as squatter:  # another program took the port meanwhile
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT
        squatter.bind(("127.0.0.1", old_port))
        squatter.listen()
        second = start_app()
        assert second.local_server.handle.port != old_port
        wait_item(second, lambda i: i.id == item_id and i.state is S.DONE)
        link = _copied_link(second, item_id)
        assert link.startswith(second.target.url + "/"), link
        assert _fetch(link, second.target.token) == 200
