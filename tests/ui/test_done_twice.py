"""A file counted once however often it reached the queue: dropped back after it was
deleted on the server (the old row stays as history, a new row sends it), or dropped as a
copy from another folder (found on the server, nothing sent). Real app, engine and server."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from pytestqt.qtbot import QtBot

from tests.engine.engine_support import text_file
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.ui.filter_model import QueueFilter
from toolbox_uploader.ui.queue_model import Column, ItemIdRole

S = ItemState
WaitItem = Callable[..., Any]


def _week(root: Path) -> Path:
    folder = root / "Week 1"
    text_file(folder / "quiz.txt", 3000)
    text_file(folder / "sheet.txt", 5000, seed=2)
    text_file(folder / "notes.txt", 7000, seed=3)
    return folder


def _settled(app: Any, rows: int) -> bool:
    model = app.window.model
    return model.rowCount() == rows and model.working() == 0


def test_a_file_sent_again_after_it_was_deleted_on_the_server_counts_once(
        qtbot: QtBot, start_app: Any, wait_item: WaitItem, tmp_path: Path) -> None:
    app = start_app()
    window, model = app.window, app.window.model
    folder = _week(tmp_path)
    window.add_paths([folder])
    qtbot.waitUntil(lambda: _settled(app, 3), timeout=30000)
    assert window.filter_buttons[QueueFilter.DONE].text() == "Done (3)"

    quiz = next(i for i in model.items() if i.display_name == "quiz.txt")
    handle = app.local_server.handle
    gone = httpx.delete(quiz.file_url, headers={"Authorization": f"Bearer {handle.token}"},
                        timeout=10)
    assert gone.status_code == 204
    window.add_paths([folder])  # the teacher drops the folder back in
    old = wait_item(app, lambda i: i.id == quiz.id and i.removed_from_server)
    new = wait_item(app, lambda i: i.display_name == "quiz.txt" and i.id != quiz.id
                    and i.state is S.DONE, timeout=30)
    # Three files of 15 kB in all, each on the server once: not "4 of 4 files · 18.0 kB".
    qtbot.waitUntil(lambda: window.batch_label.text().startswith("3 of 3 files"),
                    timeout=10000)
    assert window.batch_label.text() == "3 of 3 files · 15.0 kB of 15.0 kB"

    assert window.filter_buttons[QueueFilter.DONE].text() == "Done (3)"
    assert window.filter_buttons[QueueFilter.ALL].text() == "All (4)"
    window.set_filter(QueueFilter.DONE)
    assert window.proxy.rowCount() == 3  # what the button says is what it shows
    shown = {window.proxy.index(r, 0).data(ItemIdRole) for r in range(3)}
    assert old.id not in shown and new.id in shown
    window.set_filter(QueueFilter.ALL)
    assert window.proxy.rowCount() == 4
    assert window.total_progress.value() == 1000

    # Its report does not say the file is there, nor offer its dead link as where it is.
    dialog = window.show_details(old)
    assert dialog.headline.text() == "This file was deleted on the server"
    report = dialog.browser.toPlainText()
    assert "On the server" not in report and "Was on the server" in report
    dialog.close()


def test_a_copy_found_on_the_server_reads_as_already_there(
        qtbot: QtBot, start_app: Any, tmp_path: Path) -> None:
    app = start_app()
    window, model = app.window, app.window.model
    folder = _week(tmp_path / "laptop")
    window.add_paths([folder])
    qtbot.waitUntil(lambda: _settled(app, 3), timeout=30000)
    copy = tmp_path / "usb stick" / "Week 1"
    shutil.copytree(folder, copy)
    window.add_paths([copy])
    qtbot.waitUntil(lambda: _settled(app, 6), timeout=30000)
    copies = [i for i in model.items() if i.source_path.startswith(str(copy))]
    assert len(copies) == 3 and all(i.state is S.DONE for i in copies)
    for item in copies:
        status = model.index(model.row_of(item.id), Column.STATUS).data()
        assert status == "Already on the server", status  # not "Done, with notes"
    dialog = window.show_details(copies[0])
    assert dialog.headline.text() == "This file was already on the server"
    dialog.close()

