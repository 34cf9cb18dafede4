"""What the numbers say: a shrunk photo's two sizes and its progress, and no "time left"
once nothing is left to send."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from toolbox_uploader.core.events import BatchProgress, ItemSnapshot
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.ui.bridge import EngineBridge
from toolbox_uploader.ui.details_dialog import report_html, report_text
from toolbox_uploader.ui.formatting import batch_text
from toolbox_uploader.ui.main_window import MainWindow
from toolbox_uploader.ui.queue_model import Column, ProgressRole, QueueModel

S = ItemState
Make = Callable[..., ItemSnapshot]
WaitItem = Callable[..., Any]
MB = 1_000_000


def test_a_shrunk_photo_shows_both_sizes_and_progress_of_what_is_sent(make_item: Make) -> None:
    # As the engine describes a photo whose 0.9 MB copy is being sent instead of the
    # 4.2 MB original: ``size`` is the original, ``bytes_sent`` counts the copy's bytes.
    photo = make_item(relative_path="Trip/IMG_2041.jpg", state=S.UPLOADING, size=int(4.2 * MB),
                      optimized_size=int(0.9 * MB), bytes_sent=int(0.45 * MB))
    model = QueueModel()
    model.add_items([photo])
    assert model.index(0, Column.SIZE).data() == "4.2 MB → 900 kB"
    assert model.index(0, Column.PROGRESS).data() == "50%"
    assert model.index(0, Column.NAME).data(ProgressRole) == 0.5
    paused = replace(photo, state=S.PAUSED)
    model.update_items([paused])
    assert model.index(0, Column.STATUS).data() == "Paused at 50%"
    report = report_text(paused)
    assert "Size: 4.2 MB" in report and "After optimization: 900 kB" in report
    assert "4.2 MB" in report_html(paused) and "900 kB" in report_html(paused)


def test_a_photo_only_stripped_of_its_location_shows_one_size(make_item: Make) -> None:
    """138 bytes of GPS tags gone: "208 kB → 208 kB" would read as a glitch."""
    photo = make_item(state=S.DONE, size=208_477, optimized_size=208_339, bytes_sent=208_339)
    model = QueueModel()
    model.add_items([photo])
    assert model.index(0, Column.SIZE).data() == "208 kB"


def test_no_time_left_once_no_bytes_remain() -> None:
    # One file refused, the others done: files_done stays below files_total for good.
    assert batch_text(2, 3, 32_000, 32_000, 0.0) == "2 of 3 files · 32.0 kB of 32.0 kB"
    assert batch_text(1, 3, 16_000, 32_000, 5.0).endswith("a few seconds left")


def test_no_time_left_while_every_unfinished_row_is_paused(qtbot: QtBot,
                                                           make_item: Make) -> None:
    window = MainWindow(EngineBridge())
    qtbot.addWidget(window)
    window.model.add_items([make_item(state=S.DONE, size=1000, bytes_sent=1000),
                            make_item(state=S.PAUSED, size=9000, bytes_sent=3000)])
    window.on_batch_progress(BatchProgress(2, 1, 0, 10_000, 4_000, 50.0, 120.0))
    assert "left" not in window.batch_label.text()
    assert window.batch_label.text() == "1 of 2 files · 4.0 kB of 10.0 kB"


def test_a_finished_batch_with_a_refused_file_promises_no_time(
        qtbot: QtBot, start_app: Any, wait_item: WaitItem, tmp_path: Path) -> None:
    folder = tmp_path / "Week 2"
    folder.mkdir()
    (folder / "notes.txt").write_text("Photosynthesis needs light.\n" * 600)
    (folder / "empty.txt").write_bytes(b"")  # refused: empty files are not uploaded
    app = start_app()
    app.add_paths([folder])
    qtbot.waitUntil(lambda: app.window.model.rowCount() == 2
                    and all(i.state in (S.DONE, S.REJECTED) for i in app.window.model.items()),
                    timeout=20000)
    label = app.window.batch_label
    qtbot.waitUntil(lambda: label.text().startswith("1 of 2 files"), timeout=5000)
    assert "left" not in label.text(), label.text()
    row = app.window.model.row_of(next(i.id for i in app.window.model.items()
                                       if i.state is S.DONE))
    assert app.window.model.index(row, Column.PROGRESS).data(Qt.ItemDataRole.DisplayRole) \
        == "100%"
