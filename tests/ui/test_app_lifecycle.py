"""Second launches, settings that reach the engine, the tray and closing the window."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from toolbox_uploader import paths
from toolbox_uploader import settings as settings_io
from toolbox_uploader.cli import main as cli_main
from toolbox_uploader.core.events import BatchProgress
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.settings import Settings
from toolbox_uploader.ui.main_window import CloseChoice
from toolbox_uploader.ui.single_instance import InstanceServer
from toolbox_uploader.ui.tray import batch_message

S = ItemState
WaitItem = Callable[..., Any]


def test_second_launch_hands_its_paths_to_the_running_window(
        qtbot: QtBot, start_app: Any, wait_item: WaitItem, tmp_path: Path) -> None:
    app = start_app()
    poem = tmp_path / "poem.txt"
    poem.write_text("The owl and the pussycat went to sea\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    second = subprocess.Popen(
        [sys.executable, "-m", "toolbox_uploader", "gui", str(poem), "--category", "report"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The second process blocks until this one answers, so keep the event loop running.
    qtbot.waitUntil(lambda: second.poll() is not None, timeout=30000)
    out, err = second.communicate()
    assert second.returncode == 0, err
    assert "already open" in out
    item = wait_item(app, lambda i: i.display_name == "poem.txt")
    assert item.category == "report"
    wait_item(app, lambda i: i.state is S.DONE)


def test_a_stale_socket_does_not_block_listening(qtbot: QtBot) -> None:
    first = InstanceServer("toolbox-uploader-test-stale")
    assert first.listen()
    second = InstanceServer("toolbox-uploader-test-stale")
    assert second.listen()  # the name is taken over (as after a crash)
    first.close()
    second.close()


def test_settings_change_applies_to_the_running_engine_and_is_saved(
        qtbot: QtBot, start_app: Any, wait_item: WaitItem, tmp_path: Path) -> None:
    app = start_app()
    engine = app.engine
    dialog = app.open_settings()
    dialog.concurrency.setValue(5)
    dialog.category.setCurrentIndex(dialog.category.findData("assessment"))
    dialog.accept()
    assert app.engine is engine and engine.config.concurrency == 5  # no restart
    assert settings_io.load().concurrency == 5
    assert app.window.category == "assessment"
    quiz = tmp_path / "quiz.txt"
    quiz.write_text("Q1. Name the planets.\n")
    app.window.add_paths([quiz])
    done = wait_item(app, lambda i: i.state is S.DONE)
    assert done.category == "assessment"


def test_batch_end_notifies_and_tray_tooltip(qtbot: QtBot, start_app: Any) -> None:
    app = start_app()
    tray = app.tray
    tray.on_batch_progress(BatchProgress(4, 1, 0, 4000, 1000, 100.0, 30.0))
    assert "25%" in tray.tooltip and "1 of 4 files" in tray.tooltip
    with qtbot.waitSignal(tray.notified) as blocker:
        tray.on_batch_progress(BatchProgress(4, 3, 1, 4000, 3000, 0.0, None))
    assert blocker.args[0] == "Some files were not uploaded"
    assert batch_message(BatchProgress(2, 2, 0, 10, 10, 0.0, None)) == (
        "Uploads finished", "All 2 files are on the server.")


def test_closing_while_uploading_can_keep_going_in_the_tray(
        qtbot: QtBot, start_app: Any, wait_item: WaitItem, tmp_path: Path) -> None:
    app = start_app(Settings(bandwidth_limit_kib=1024))
    asked: list[bool] = []

    def keep_uploading() -> CloseChoice:
        asked.append(True)
        return CloseChoice.TRAY

    app.window.ask_on_close = keep_uploading
    big = tmp_path / "term plan.txt"
    big.write_text(("z" * 99 + "\n") * 120_000)
    app.add_paths([big])
    wait_item(app, lambda i: i.state is S.UPLOADING)
    with qtbot.waitSignal(app.window.hidden_to_tray):
        app.window.close()
    assert asked == [True] and not app.window.isVisible()
    assert app.engine is not None  # still uploading
    app.show_window()
    assert app.window.isVisible()
    assert (paths.config_dir() / "window.json").is_file()  # geometry remembered


def test_gui_refuses_an_unknown_category(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["gui", "--category", "nope"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_gui_refuses_a_server_that_is_not_a_web_address(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["gui", "--server", "ftp://files.school"]) == 2
    assert "not a server address" in capsys.readouterr().err


def test_signing_in_from_settings_reaches_the_engine(
        qtbot: QtBot, start_app: Any, wait_item: WaitItem, live_server: Any,
        tmp_path: Path) -> None:
    app = start_app(Settings(server_url=live_server.url))
    assert "not signed in" in app.window.server_label.text()
    dialog = app.open_settings()
    dialog.token.setText(live_server.token)
    with qtbot.waitSignal(dialog.signed_in):
        dialog.sign_in_button.click()
    # The app asks the keyring again, on a worker thread too.
    qtbot.waitUntil(lambda: app.target.token == live_server.token, timeout=5000)
    assert app.window.server_label.text() == f"Server: {live_server.url}"
    dialog.reject()
    sheet = tmp_path / "timetable.txt"
    sheet.write_text("Mon: maths, Tue: art\n")
    app.add_paths([sheet])
    done = wait_item(app, lambda i: i.state is S.DONE)
    assert done.file_url.startswith(live_server.url)
