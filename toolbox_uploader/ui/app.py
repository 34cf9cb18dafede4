"""Start-up and shut-down of the desktop app, and the wiring between its parts.

``UploaderApp`` owns everything one running app has: the settings, the embedded local server
(when no server is configured), the engine, the bridge, the window, the tray icon and the
single-instance listener. Nothing is global; tests create one per test. ``run`` is what
``toolbox-uploader gui`` calls.
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox

from toolbox_uploader import paths
from toolbox_uploader import settings as settings_io
from toolbox_uploader.core import credentials
from toolbox_uploader.core.engine import Engine, EngineBusyError, EngineConfig
from toolbox_uploader.settings import Settings
from toolbox_uploader.ui import icons
from toolbox_uploader.ui.background_priority import background_threads
from toolbox_uploader.ui.bridge import EngineBridge
from toolbox_uploader.ui.main_window import MainWindow
from toolbox_uploader.ui.settings_dialog import SettingsDialog
from toolbox_uploader.ui.single_instance import InstanceServer, hand_over
from toolbox_uploader.ui.tray import TrayController

log = logging.getLogger(__name__)

LOCAL_SERVER_KEY = "local"
#: Settings that only take effect in a new engine (the engine has no setters for them).
_ENGINE_FIELDS = ("concurrency", "optimize_images", "max_image_edge", "image_quality",
                  "strip_location", "bandwidth_limit_kib", "auto_resume", "default_category")


@dataclass(frozen=True, slots=True)
class ServerTarget:
    url: str
    token: str | None
    server_key: str | None
    local: bool


class UploaderApp(QObject):
    """One running desktop app.

    Signals: ``engine_restarted()`` after settings made a new engine; ``stopped()`` once
    ``shutdown`` finished.
    """

    engine_restarted = Signal()
    stopped = Signal()

    def __init__(self, settings: Settings, *, server_url: str | None = None,
                 store_path: Path | None = None, instance_name: str | None = None,
                 listen: bool = True, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.server_override = server_url  # --server: this run only, not saved
        self.store_path = store_path or paths.session_db_path()
        self.local_server = None  # EmbeddedServer while the local server is in use
        self.target: ServerTarget | None = None
        self.engine: Engine | None = None
        self._unsubscribe = None
        self._stopped = False
        self.bridge = EngineBridge(self)
        self.window = MainWindow(self.bridge, None, settings.default_category)
        self.window.keep_running_in_tray = settings.keep_running_in_tray
        self.tray = TrayController(self.window, self)
        self.tray.notifications_enabled = settings.notifications
        self.window.tray_available = self.tray.available
        self.instance = InstanceServer(instance_name, self) if listen else None
        self.window.quit_requested.connect(self.quit)
        self.window.settings_requested.connect(self.open_settings)
        self.window.hidden_to_tray.connect(self._on_hidden_to_tray)
        self.tray.show_requested.connect(self.show_window)
        self.tray.quit_requested.connect(self.window.request_quit)
        self.bridge.batch_progress.connect(self.tray.on_batch_progress)
        if self.instance is not None:
            self.instance.paths_received.connect(self.on_handed_over)

    # ------------------------------------------------------------------ start and stop
    def start(self) -> None:
        """Start the server (if local) and the engine, restore the queue, show the window."""
        if self.instance is not None and not self.instance.listen():
            log.warning("could not listen for other launches on %s", self.instance.name)
        with background_threads():
            self.target = self._connect_target()
            self.engine = self._make_engine()
            self.engine.start()
        self._subscribe()
        self.window.engine = self.engine
        self.window.restore_window_state()
        self.window.show()
        for problem in self.settings.warnings:
            self.window.statusBar().showMessage(f"Settings: {problem}", 15000)

    def _connect_target(self) -> ServerTarget:
        url = self.server_override or self.settings.server_url
        if url:
            self._stop_local_server()
            target = ServerTarget(url, credentials.resolve_token(None, url), None, local=False)
            note = "" if target.token else " — not signed in (Settings → Sign in)"
            self.window.set_server_text(f"Server: {url}{note}")
            return target
        if self.local_server is None:
            from toolbox_uploader.server.config import ServerConfig
            from toolbox_uploader.server.embedded import EmbeddedServer

            self.local_server = EmbeddedServer(
                ServerConfig(data_dir=paths.server_data_dir(), port=0))
            self.local_server.start()
        handle = self.local_server.handle
        assert handle is not None
        self.window.set_server_text(f"Local server — files kept in {paths.server_data_dir()}")
        return ServerTarget(handle.url, handle.token, LOCAL_SERVER_KEY, local=True)

    def _stop_local_server(self) -> None:
        if self.local_server is not None:
            self.local_server.stop()
            self.local_server = None

    def _make_engine(self) -> Engine:
        s, t = self.settings, self.target
        assert t is not None
        return Engine(EngineConfig(
            store_path=self.store_path, server_url=t.url, token=t.token, server_key=t.server_key,
            concurrency=s.concurrency, optimize_images=s.optimize_images,
            max_image_edge=s.max_image_edge, image_quality=s.image_quality,
            strip_location=s.strip_location, bandwidth_limit=s.bandwidth_limit,
            auto_resume=s.auto_resume, default_category=s.default_category,
        ))

    def _subscribe(self) -> None:
        assert self.engine is not None
        self._unsubscribe = self.engine.subscribe(self.bridge.listener)

    def _stop_engine(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.engine is not None:
            self.engine.stop()
            self.engine = None
            self.window.engine = None

    def shutdown(self) -> None:
        """Stop the engine (every unfinished item stays resumable), then the local server."""
        if self._stopped:
            return
        self._stopped = True
        self._stop_engine()
        self._stop_local_server()
        self.tray.hide()
        if self.instance is not None:
            self.instance.close()
        self.stopped.emit()

    def quit(self) -> None:
        """Hide at once, then stop; ``run`` ends the event loop on ``stopped``."""
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            self.window.hide()
            self.shutdown()
        finally:
            QGuiApplication.restoreOverrideCursor()

    # ------------------------------------------------------------------ interaction
    def add_paths(self, found: Sequence[Path], category: str | None = None) -> None:
        if found and self.engine is not None:
            self.engine.add_paths(list(found), category or self.window.category)

    def on_handed_over(self, found: list[Path], category: str | None) -> None:
        self.add_paths(found, category)
        self.show_window()

    def show_window(self) -> None:
        self.window.show()
        self.window.setWindowState(self.window.windowState() & ~Qt.WindowState.WindowMinimized)
        self.window.raise_()
        self.window.activateWindow()

    def _on_hidden_to_tray(self) -> None:
        self.tray.notify("Still uploading", "ToolBox Uploader keeps going in the tray.")

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.settings, self.window)
        dialog.setObjectName("settingsDialog")
        dialog.signed_in.connect(self._on_credentials_changed)
        dialog.signed_out.connect(self._on_credentials_changed)
        dialog.accepted.connect(lambda: self.apply_settings(dialog.settings()))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _on_credentials_changed(self, url: str) -> None:
        current = self.target
        if current is not None and not current.local and current.url == url:
            self.target = ServerTarget(url, credentials.resolve_token(None, url), None, False)
            if self.engine is not None:
                self.engine.set_server(url, None, self.target.token, None)
            note = "" if self.target.token else " — not signed in (Settings → Sign in)"
            self.window.set_server_text(f"Server: {url}{note}")

    def apply_settings(self, new: Settings) -> None:
        """Save, then apply: server changes go to the running engine; upload settings that the
        engine only reads at start make a new engine (unfinished items resume)."""
        old, self.settings = self.settings, new
        try:
            settings_io.save(new)
        except (OSError, settings_io.SettingsError) as exc:
            QMessageBox.warning(self.window, "Settings not saved", str(exc))
        self.window.set_default_category(new.default_category)
        self.window.keep_running_in_tray = new.keep_running_in_tray
        self.tray.notifications_enabled = new.notifications
        server_changed = new.server_url != old.server_url and self.server_override is None
        engine_changed = any(getattr(new, f) != getattr(old, f) for f in _ENGINE_FIELDS)
        if not (server_changed or engine_changed):
            return
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            if engine_changed:
                self._stop_engine()
            with background_threads():
                if server_changed:
                    self.target = self._connect_target()
                if engine_changed:
                    self.engine = self._make_engine()
                    self.engine.start()
            if engine_changed:
                self._subscribe()
                self.window.engine = self.engine
                self.engine_restarted.emit()
            elif self.engine is not None and self.target is not None:
                t = self.target
                self.engine.set_server(t.url, None, t.token, t.server_key)
        finally:
            QGuiApplication.restoreOverrideCursor()


def _configure_application(app: QApplication) -> None:
    app.setApplicationName("ToolBox Uploader")
    app.setApplicationDisplayName("ToolBox Uploader")
    app.setOrganizationDomain("toolboxuploader.org")
    app.setDesktopFileName(icons.APP_ID)
    app.setWindowIcon(icons.app_icon())
    app.setQuitOnLastWindowClosed(False)  # the tray may keep the app alive


def run(found: Sequence[Path], *, server_url: str | None = None,
        category: str | None = None) -> int:
    """``toolbox-uploader gui``: hand over to a running window, or start the app."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    _configure_application(app)
    if hand_over(found, category):
        print("The paths were handed to the ToolBox Uploader window that is already open.")
        return 0
    settings = settings_io.load()
    uploader = UploaderApp(settings, server_url=server_url)
    try:
        uploader.start()
    except EngineBusyError:
        QMessageBox.critical(None, "ToolBox Uploader is already running",
                             "Another ToolBox Uploader is using the upload queue. "
                             "Close it first, or use its window.")
        uploader.shutdown()
        return 1
    except (OSError, RuntimeError) as exc:  # the local server or the store (incl. timeouts)
        log.exception("start-up failed")
        QMessageBox.critical(None, "ToolBox Uploader could not start", str(exc))
        uploader.shutdown()
        return 1
    if category:
        uploader.window.set_default_category(category)
    uploader.add_paths(found, category)
    # Ctrl+C in the terminal quits cleanly; the timer lets Python see the signal.
    signal.signal(signal.SIGINT, lambda *_: uploader.window.request_quit())
    wake = QTimer()
    wake.timeout.connect(lambda: None)
    wake.start(250)
    uploader.stopped.connect(app.quit)
    app.aboutToQuit.connect(uploader.shutdown)
    code = app.exec()
    uploader.shutdown()
    return int(code)
