"""A drop or paste that adds nothing says why in the status bar ("… is empty", "… already
uploaded"), instead of leaving the window as if nothing had been dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from tests.engine.engine_support import text_file
from tests.ui.test_app_uploads import drop
from toolbox_uploader.core.events import DropFinished, ItemsAdded, ItemSnapshot
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.ui.bridge import ADD_SLICE, EngineBridge


def _says(qtbot: QtBot, app: Any, text: str, timeout: int = 10_000) -> None:
    qtbot.waitUntil(lambda: app.window.statusBar().currentMessage() == text, timeout=timeout)


def test_an_empty_folder_dropped_says_so(qtbot: QtBot, start_app: Any,
                                         tmp_path: Path) -> None:
    app = start_app()
    (tmp_path / "Week 3").mkdir()
    drop(app.window.drop_zone, tmp_path / "Week 3")
    _says(qtbot, app, "Nothing to add: “Week 3” is empty.")
    assert app.window.model.rowCount() == 0


def test_a_folder_already_uploaded_says_so_when_dropped_again(
        qtbot: QtBot, start_app: Any, tmp_path: Path) -> None:
    app = start_app()
    folder = tmp_path / "Week 3"
    for n in range(2):
        text_file(folder / f"sheet{n}.txt", 1500, seed=n)
    drop(app.window.drop_zone, folder)
    qtbot.waitUntil(lambda: app.window.model.rowCount() == 2 and all(
        i.state is ItemState.DONE for i in app.window.model.items()), timeout=20_000)
    assert app.window.statusBar().currentMessage() in ("", "Adding “Week 3”…")  # all new
    drop(app.window.drop_zone, folder)
    _says(qtbot, app, "Nothing new: all 2 files from “Week 3” are already uploaded.")
    assert app.window.model.rowCount() == 2


def test_a_pasted_folder_of_system_files_says_so(qtbot: QtBot, start_app: Any,
                                                 tmp_path: Path) -> None:
    app = start_app()
    folder = tmp_path / "Week 3"
    for name in (".DS_Store", "Thumbs.db", "desktop.ini"):
        text_file(folder / name, 64)
    QGuiApplication.clipboard().setText(str(folder))
    app.window.on_paste()
    _says(qtbot, app, "Nothing to add: “Week 3” holds only hidden or system files.")


def test_a_drop_is_told_after_the_last_slice_of_its_rows(qtbot: QtBot,
                                                         make_item: Any) -> None:
    """"Added …" of a big drop comes once its rows are all in the model, not with the first
    slice of them."""
    bridge = EngineBridge()
    items: list[ItemSnapshot] = [make_item() for _ in range(2 * ADD_SLICE + 1)]
    order: list[str] = []
    bridge.items_added.connect(lambda rows: order.append(f"rows:{len(rows)}"))
    bridge.drop_finished.connect(lambda d: order.append(f"drop:{d.added}"))
    bridge.listener([ItemsAdded(tuple(items)),
                     DropFinished(("/t/Week 3",), added=len(items), already_queued=2)])
    qtbot.waitUntil(lambda: any(o.startswith("drop") for o in order), timeout=5000)
    assert order == [f"rows:{ADD_SLICE}", f"rows:{ADD_SLICE}", "rows:1",
                     f"drop:{len(items)}"]
