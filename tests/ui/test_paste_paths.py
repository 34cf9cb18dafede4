"""Pasting paths copied as text: "Copy as path" in Windows Explorer, a file manager's path
bar, a terminal. The clipboard then holds text, not file URLs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from toolbox_uploader.ui.drop_zone import pasted_paths

WaitItem = Callable[..., Any]


def text_mime(text: str) -> QMimeData:
    mime = QMimeData()
    mime.setText(text)
    return mime


@pytest.mark.parametrize("text", [
    "/home/teacher/Lessons/cells.pdf",
    '"/home/teacher/Lessons/cells.pdf"',  # Explorer's "Copy as path" quotes each path
    "  /home/teacher/Lessons/cells.pdf  \n",
    "file:///home/teacher/Lessons/cells.pdf",
])
def test_one_path_as_text(qapp: Any, text: str) -> None:
    assert pasted_paths(text_mime(text)) == [Path("/home/teacher/Lessons/cells.pdf")]


def test_several_paths_one_per_line(qapp: Any) -> None:
    text = '"/home/teacher/a b.pdf"\r\n\r\n/home/teacher/Week 2\n'
    assert pasted_paths(text_mime(text)) == [Path("/home/teacher/a b.pdf"),
                                            Path("/home/teacher/Week 2")]


@pytest.mark.parametrize("text", [
    "",
    "   \n",
    "cells.pdf",  # relative: it would be read from wherever the app was started
    ".",
    "Please upload /home/teacher/cells.pdf today",
    "/home/teacher/cells.pdf\nand the slides",  # prose around a path: not a list of paths
    "https://example.org/cells.pdf",
])
def test_text_that_is_not_a_list_of_paths_adds_nothing(qapp: Any, text: str) -> None:
    assert pasted_paths(text_mime(text)) == []


def test_file_urls_win_over_their_text(qapp: Any, tmp_path: Path) -> None:
    from PySide6.QtCore import QUrl

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "a.txt"))])
    mime.setText("/somewhere/else.txt")
    assert pasted_paths(mime) == [tmp_path / "a.txt"]


def test_pasting_a_path_copied_as_text_queues_it(qtbot: QtBot, start_app: Any,
                                                 wait_item: WaitItem, tmp_path: Path) -> None:
    app = start_app()
    folder = tmp_path / "Week 3"
    folder.mkdir()
    (folder / "rubric.txt").write_text("Grade A: all parts answered.\n")
    QGuiApplication.clipboard().setText(f'"{folder}"')
    app.window.on_paste()
    # Read now: the message lasts 3 s, and under load the folder can take longer to walk.
    assert app.window.statusBar().currentMessage() == "Adding “Week 3”…"
    item = wait_item(app, lambda i: i.display_name == "rubric.txt")
    assert item.relative_path == "Week 3/rubric.txt"


def test_pasting_plain_words_says_so(qtbot: QtBot, start_app: Any) -> None:
    app = start_app()
    QGuiApplication.clipboard().setText("rubric")
    app.window.on_paste()
    assert "no files" in app.window.statusBar().currentMessage()
    assert app.window.model.rowCount() == 0
