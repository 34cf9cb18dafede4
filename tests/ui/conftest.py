"""Fixtures for the desktop app's tests: snapshot factories and a running app on a real engine.

Every app gets the test's own ``TOOLBOX_UPLOADER_HOME`` (so its own session store, settings,
local server data and single-instance name) from the autouse ``app_home`` fixture.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from toolbox_uploader import settings as settings_io
from toolbox_uploader.core.events import ItemSnapshot
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.ui.main_window import CloseChoice

_ids = itertools.count(1)
_HERE = Path(__file__).parent

#: The offscreen platform has no window manager: it says so when a dialog passes size hints,
#: a window is raised or a menu pops up (it grabs the keyboard). That is the test platform
#: talking, not the app.
_PLATFORM_NOISE = (r"This plugin does not support "
                   r"((propagateSizeHints|raise)\(\)|grabbing the keyboard)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.qt_log_ignore(_PLATFORM_NOISE))


@pytest.fixture(autouse=True)
def empty_clipboard(qapp: Any) -> Iterator[None]:
    """Leave no QMimeData on the clipboard: Qt would free it after Python at exit (crash)."""
    yield
    from PySide6.QtGui import QGuiApplication

    QGuiApplication.clipboard().clear()


@pytest.fixture
def make_item() -> Callable[..., ItemSnapshot]:
    def make(**changes: Any) -> ItemSnapshot:
        n = changes.pop("id", None) or next(_ids)
        rel = changes.pop("relative_path", f"Lessons/file-{n}.pdf")
        values: dict[str, Any] = {
            "id": n, "source_path": f"/home/teacher/{rel}", "relative_path": rel,
            "display_name": rel.rsplit("/", 1)[-1], "category": "educational_content",
            "size": 1000 * n, "state": ItemState.QUEUED, "server": "local",
        }
        values.update(changes)
        return ItemSnapshot(**values)

    return make


AppFactory = Callable[..., Any]


@pytest.fixture
def start_app(qtbot: QtBot, tmp_path: Path) -> Iterator[AppFactory]:
    """Start an ``UploaderApp`` (local embedded server unless ``server_url``); all are shut down
    at the end. Closing a window or removing rows never asks: tests decide with
    ``ask_on_close`` and ``ask_remove``."""
    from toolbox_uploader.ui.app import UploaderApp

    started: list[Any] = []

    def start(settings: settings_io.Settings | None = None, **kwargs: Any) -> UploaderApp:
        app = UploaderApp(settings or settings_io.load(), **kwargs)
        app.window.ask_on_close = lambda: CloseChoice.QUIT
        app.window.ask_remove = lambda count, sending: True  # no modal question in tests
        qtbot.addWidget(app.window)
        app.start()
        started.append(app)
        return app

    yield start
    for app in started:
        app.shutdown()


@pytest.fixture
def wait_item(qtbot: QtBot) -> Callable[..., ItemSnapshot]:
    """``wait_item(app, predicate, timeout=20)``: poll the rows the window shows until one
    satisfies ``predicate``; returns it."""

    def wait(app: Any, predicate: Callable[[ItemSnapshot], bool],
             timeout: float = 20.0) -> ItemSnapshot:
        found: list[ItemSnapshot] = []

        def check() -> bool:
            found[:] = [i for i in app.window.model.items() if predicate(i)]
            return bool(found)

        qtbot.waitUntil(check, timeout=int(timeout * 1000))
        return found[0]

    return wait


@pytest.fixture
def down_server_url(tmp_path: Path) -> Iterator[str]:
    """The address of a real server that was started once (so a token exists, kept in the
    test keyring) and stopped: it cannot be reached."""
    from toolbox_uploader.core import credentials
    from toolbox_uploader.server.config import ServerConfig
    from toolbox_uploader.server.embedded import EmbeddedServer

    server = EmbeddedServer(ServerConfig(data_dir=tmp_path / "school", host="127.0.0.1",
                                         port=0))
    handle = server.start()
    server.stop()
    credentials.store_token(handle.url, handle.token)
    yield handle.url
