"""The right-click menu acts on the whole selection when the clicked row is part of it, on a
real engine and the real embedded server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QPoint
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication, QMenu
from pytestqt.qtbot import QtBot

from tests.core import corpus
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.settings import Settings
from toolbox_uploader.ui.details_dialog import DetailsDialog
from toolbox_uploader.ui.queue_model import Column

S = ItemState
WaitItem = Callable[..., Any]


def right_click(window: Any, item_id: int) -> QMenu:
    """Right-click the row's name cell as a mouse would; returns the menu that opened."""
    for old in window.findChildren(QMenu):
        old.close()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    index = window.proxy.mapFromSource(window.model.index(window.model.row_of(item_id),
                                                          Column.NAME))
    pos = window.view.visualRect(index).center()
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos,
                              window.view.viewport().mapToGlobal(pos))
    QApplication.sendEvent(window.view.viewport(), event)
    menus = [m for m in window.findChildren(QMenu) if m.isVisible()]
    assert len(menus) == 1
    return menus[0]


def choose(menu: QMenu, text: str) -> None:
    texts = [a.text() for a in menu.actions()]
    assert text in texts, texts
    next(a for a in menu.actions() if a.text() == text).trigger()
    menu.close()


def test_the_menu_of_a_selection_acts_on_every_selected_row(
        qtbot: QtBot, start_app: Any, wait_item: WaitItem, tmp_path: Path) -> None:
    app = start_app(Settings(bandwidth_limit_kib=1024, concurrency=1))
    for n in range(3):
        (tmp_path / f"lecture {n}.txt").write_text(("x" * 99 + "\n") * 120_000)
    app.add_paths(sorted(tmp_path.glob("lecture *.txt")))
    item = wait_item(app, lambda i: i.state is S.UPLOADING and i.bytes_sent > 0)
    window = app.window
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=5000)
    window.view.selectAll()

    choose(right_click(window, item.id), "Pause 3 files")
    qtbot.waitUntil(lambda: all(i.state is S.PAUSED for i in window.model.items()),
                    timeout=10000)
    choose(right_click(window, item.id), "Resume 3 files")
    qtbot.waitUntil(lambda: not any(i.state is S.PAUSED for i in window.model.items()),
                    timeout=10000)
    asked: list[tuple[int, int]] = []
    window.ask_remove = lambda count, sending: asked.append((count, sending)) is not None
    choose(right_click(window, item.id), "Remove 3 files")  # "no": nothing goes
    assert asked and asked[0][0] == 3 and asked[0][1] >= 1  # uploads among them: asked
    qtbot.wait(300)
    assert window.model.rowCount() == 3
    window.ask_remove = lambda count, sending: True
    menu = right_click(window, item.id)
    choose(menu, "Remove 3 files")
    qtbot.waitUntil(lambda: window.model.rowCount() == 0, timeout=10000)
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert window.findChildren(QMenu, "rowMenu") == []  # no menu left behind per click


def test_the_menu_of_an_unselected_row_acts_on_that_row(
        qtbot: QtBot, start_app: Any, wait_item: WaitItem, tmp_path: Path) -> None:
    app = start_app(Settings(bandwidth_limit_kib=1024))
    (tmp_path / "notes.txt").write_text(("x" * 99 + "\n") * 25_000)  # 2.5 MB: 2-3 s
    (tmp_path / "quiz.txt").write_text("1. What is a cell?\n")
    app.add_paths([tmp_path / "quiz.txt", tmp_path / "notes.txt"])
    quiz = wait_item(app, lambda i: i.display_name == "quiz.txt" and i.state is S.DONE)
    notes = wait_item(app, lambda i: i.display_name == "notes.txt"
                      and i.state is S.UPLOADING and i.bytes_sent > 0)
    window = app.window
    window.select_item(quiz.id)  # the teacher right-clicks another, unselected row
    menu = right_click(window, notes.id)
    assert [a.text() for a in menu.actions() if a.text()] == ["Pause", "Remove", "Details…"]
    # The menu stays open while the upload ends: the report shows the row as it is then.
    wait_item(app, lambda i: i.id == notes.id and i.state is S.DONE)
    choose(menu, "Details…")
    dialog = window.findChild(DetailsDialog, "detailsDialog")
    assert dialog is not None and dialog.item.id == notes.id
    assert dialog.headline.text() == "This file is on the server"
    dialog.close()
    choose(right_click(window, notes.id), "Remove")
    qtbot.waitUntil(lambda: [i.id for i in window.model.items()] == [quiz.id], timeout=5000)


def test_a_right_click_outside_the_rows_opens_nothing(start_app: Any) -> None:
    window = start_app().window
    pos = QPoint(5, window.view.viewport().height() - 5)  # below the (no) rows
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos,
                              window.view.viewport().mapToGlobal(pos))
    QApplication.sendEvent(window.view.viewport(), event)
    assert window.findChildren(QMenu, "rowMenu") == []


def test_the_videos_a_category_refused_are_sent_under_another_in_one_choice(
        qtbot: QtBot, start_app: Any, wait_item: WaitItem, tmp_path: Path) -> None:
    """A folder dropped as "Teaching material" with two lesson videos in it: that category
    refuses video, and one choice in the selection's menu sends both as media."""
    folder = tmp_path / "Week 3"
    folder.mkdir()
    corpus.make_mp4(folder, "experiment.mp4")
    corpus.make_mp4(folder, "recap.mp4")
    (folder / "notes.txt").write_text("Forces and motion: recap questions.\n")
    app = start_app(Settings(default_category="educational_content"))
    app.add_paths([folder])
    window = app.window
    qtbot.waitUntil(lambda: sorted(i.state.value for i in window.model.items()) == [
        "done", "rejected", "rejected"], timeout=20000)
    notes = next(i for i in window.model.items() if i.display_name == "notes.txt")
    window.view.selectAll()

    menu = right_click(window, notes.id)
    (category,) = [a for a in menu.actions() if a.text() == "Category"]
    choices = {a.text(): a for a in category.menu().actions()}
    assert choices["Teaching material"].isChecked()  # both refused rows are in it now
    assert not choices["Teaching material"].isEnabled()
    choose(category.menu(), "Photo, video or audio (2 files)")
    menu.close()

    qtbot.waitUntil(lambda: all(i.state is S.DONE for i in window.model.items()),
                    timeout=20000)
    videos = [i for i in window.model.items() if i.display_name.endswith(".mp4")]
    assert [i.category for i in videos] == ["media_resource"] * 2
    assert next(i for i in window.model.items() if i.id == notes.id).category == \
        "educational_content"  # sent already: it keeps its category

    menu = right_click(window, notes.id)  # nothing can change category any more
    assert "Category" not in [a.text() for a in menu.actions()]
    menu.close()
