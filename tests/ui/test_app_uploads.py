"""The window on a real engine and the real embedded server: drop, upload, refuse, keyboard."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QStyleOptionViewItem, QWidget
from pytestqt.qtbot import QtBot

from toolbox_uploader import paths
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.ui.details_dialog import DetailsDialog
from toolbox_uploader.ui.queue_model import ActionsRole, Column

S = ItemState
WaitItem = Callable[..., Any]


def lesson_folder(root: Path) -> Path:
    folder = root / "Science"
    (folder / "Week 1").mkdir(parents=True)
    (folder / "Week 1" / "cells.txt").write_text("Cells are the building blocks of life.\n")
    (folder / "Week 1" / "quiz.txt").write_text("1. What is a cell?\n")
    (folder / "notes.txt").write_text("Bring microscopes on Monday.\n")
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1" + bytes(64))
    (folder / "Thumbs.db").write_bytes(bytes(128))
    return folder


def drop(widget: QWidget, *targets: Path) -> None:
    """What a file manager's drag does: enter (accepted), then drop (Qt only delivers a drop
    to the widget that accepted the drag)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(t)) for t in targets])
    center = QPointF(widget.rect().center())
    # QDragEnterEvent takes a QPoint in Qt 6 (QDropEvent a QPointF).
    enter = QDragEnterEvent(widget.rect().center(), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    event = QDropEvent(center, Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
    assert event.isAccepted()


def click_action(app: Any, item_id: int, action_index: int = 0) -> None:
    """Click the painted button number ``action_index`` in the row's actions cell."""
    window = app.window
    row = window.model.row_of(item_id)
    index = window.proxy.mapFromSource(window.model.index(row, Column.ACTIONS))
    window.view.scrollTo(index)
    option = QStyleOptionViewItem()
    option.initFrom(window.view)
    delegate = window.view.itemDelegateForColumn(Column.ACTIONS)
    rects = delegate.button_rects(window.view.visualRect(index), index.data(ActionsRole), option)
    point = rects[action_index][1].center()
    QTest.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, point)


def test_dropped_folder_uploads_to_the_local_server(qtbot: QtBot, start_app: Any,
                                                    wait_item: WaitItem, tmp_path: Path) -> None:
    app = start_app()
    assert app.target.local
    assert app.window.server_label.text().startswith("Local server — files kept in ")
    assert str(paths.server_data_dir()) in app.window.server_label.text()
    drop(app.window.drop_zone, lesson_folder(tmp_path))
    qtbot.waitUntil(lambda: app.window.model.rowCount() == 3, timeout=10000)
    rels = sorted(i.relative_path for i in app.window.model.items())
    assert rels == ["Science/Week 1/cells.txt", "Science/Week 1/quiz.txt", "Science/notes.txt"]
    qtbot.waitUntil(
        lambda: all(i.state is S.DONE for i in app.window.model.items()), timeout=20000)
    done = app.window.model.items()
    assert all(i.file_url for i in done)
    qtbot.waitUntil(lambda: app.window.batch_label.text().startswith("3 of 3 files"),
                    timeout=5000)
    assert app.window.total_progress.value() == 1000
    assert app.window.filter_buttons[next(iter(app.window.filter_buttons))].text() == "All (3)"
    # Copy link puts the file's address on the clipboard.
    app.window.on_row_action(done[0].id, "copy_link")
    assert QGuiApplication.clipboard().text() == done[0].file_url


def test_rejected_file_shows_its_reason(qtbot: QtBot, start_app: Any, wait_item: WaitItem,
                                        tmp_path: Path) -> None:
    program = tmp_path / "setup.exe"
    program.write_bytes(b"MZ\x90\x00" + bytes(60) + b"PE\0\0" + bytes(400))
    app = start_app()
    app.add_paths([program])
    item = wait_item(app, lambda i: i.state is S.REJECTED)
    assert item.reason is not None and item.reason.message
    row = app.window.model.row_of(item.id)
    status = app.window.model.index(row, Column.STATUS)
    assert status.data() == "Not accepted"
    assert item.reason.message in status.data(Qt.ItemDataRole.ToolTipRole)
    click_action(app, item.id, 0)  # "Why?"
    dialog = app.window.findChild(DetailsDialog, "detailsDialog")
    assert dialog is not None and dialog.isVisible()
    assert item.reason.message in dialog.browser.toPlainText()
    dialog.close()


def slow_upload(start_app: Any, wait_item: WaitItem, tmp_path: Path) -> tuple[Any, Any]:
    """An app sending a 12 MB file (tus, not the direct path) at 1 MiB/s, caught mid-upload."""
    from toolbox_uploader.settings import Settings

    app = start_app(Settings(bandwidth_limit_kib=1024))
    lecture = tmp_path / "lecture notes.txt"
    lecture.write_text(("x" * 99 + "\n") * 120_000)
    app.add_paths([lecture])
    # Past the first chunk (1 MiB, 1 s at the limit): a pause then keeps what the server
    # confirmed, and the row says so ("Paused at N%").
    return app, wait_item(app, lambda i: i.state is S.UPLOADING and i.bytes_sent > 1_300_000)


def test_keyboard_pause_resume_details_remove(qtbot: QtBot, start_app: Any,
                                              wait_item: WaitItem, tmp_path: Path) -> None:
    app, item = slow_upload(start_app, wait_item, tmp_path)
    view = app.window.view
    view.setFocus()
    assert app.window.select_item(item.id)
    QTest.keyClick(view, Qt.Key.Key_Space)  # pause
    paused = wait_item(app, lambda i: i.state is S.PAUSED)
    assert 0 < paused.bytes_sent < (paused.size or 0)
    QTest.keyClick(view, Qt.Key.Key_Return)  # details
    dialog = app.window.findChild(DetailsDialog, "detailsDialog")
    assert dialog is not None and "lecture notes.txt" in dialog.browser.toPlainText()
    dialog.close()
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_Space)  # resume
    wait_item(app, lambda i: i.state in (S.READY, S.UPLOADING, S.VERIFYING, S.DONE))
    QTest.keyClick(view, Qt.Key.Key_Delete)  # remove
    qtbot.waitUntil(lambda: app.window.model.rowCount() == 0, timeout=5000)


def test_pause_and_resume_buttons(qtbot: QtBot, start_app: Any, wait_item: WaitItem,
                                  tmp_path: Path) -> None:
    app, item = slow_upload(start_app, wait_item, tmp_path)
    click_action(app, item.id, 0)  # pause
    paused = wait_item(app, lambda i: i.state is S.PAUSED)
    row = app.window.model.row_of(item.id)
    assert app.window.model.index(row, Column.STATUS).data().startswith("Paused at")
    click_action(app, item.id, 0)  # resume
    wait_item(app, lambda i: i.state in (S.READY, S.UPLOADING) and i.bytes_sent > 0)
    click_action(app, item.id, 1)  # cancel and remove
    qtbot.waitUntil(lambda: app.window.model.rowCount() == 0, timeout=5000)
    assert paused.bytes_sent > 0


def test_changing_the_category_of_a_refused_row_checks_it_again(
        qtbot: QtBot, start_app: Any, wait_item: WaitItem, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<html><body><script>alert(1)</script></body></html>")
    app = start_app()
    app.add_paths([page], "avatar")
    item = wait_item(app, lambda i: i.state is S.REJECTED)
    index = app.window.model.index(app.window.model.row_of(item.id), Column.CATEGORY)
    assert app.window.model.setData(index, "temporary")
    wait_item(app, lambda i: i.state is S.DONE and i.category == "temporary")


def test_every_control_is_named_and_reachable(start_app: Any) -> None:
    app = start_app()
    window = app.window
    focusable = [w for w in window.findChildren(QWidget)
                 if w.isVisible() and w.focusPolicy() & Qt.FocusPolicy.TabFocus
                 and w.isEnabled()]
    assert len(focusable) >= 8
    unnamed = [w for w in focusable if not w.accessibleName()
               and w.metaObject().className() not in ("QTableCornerButton",)]
    assert unnamed == [], [w.metaObject().className() for w in unnamed]
    # Walking the Tab chain from the category chooser reaches the table and the filters.
    seen: set[int] = set()
    widget = window.category_combo
    for _ in range(60):
        seen.add(id(widget))
        widget = widget.nextInFocusChain()
        if widget is window.category_combo:
            break
    assert id(window.view) in seen
    assert all(id(b) in seen for b in window.filter_buttons.values())



def test_pasting_copied_files_queues_them(qtbot: QtBot, start_app: Any, wait_item: WaitItem,
                                          tmp_path: Path) -> None:
    app = start_app()
    copied = tmp_path / "rubric.txt"
    copied.write_text("Grade A: all parts answered.\n")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(copied)), QUrl("https://example.org/not-a-file")])
    QGuiApplication.clipboard().setMimeData(mime)
    app.window.on_paste()
    item = wait_item(app, lambda i: i.display_name == "rubric.txt")
    assert item.relative_path == "rubric.txt"
    assert app.window.model.rowCount() == 1
