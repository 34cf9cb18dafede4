"""Start-up and shut-down of the desktop app, and the wiring between its parts.

``UploaderApp`` owns everything one running app has: the settings, the embedded local server
(when no server is configured), the engine, the bridge, the window, the tray icon and the
single-instance listener. Nothing is global; tests create one per test. ``run`` is what
``toolbox-uploader gui`` calls.

Upload settings (concurrency, bandwidth, images) go straight to the running engine. A
switch of server happens on a worker thread: the keyring is asked for the school server's
token (a locked one waits for its unlock prompt), and the built-in server is started or
stopped (stopping waits for the request bodies it is receiving): seconds in which the
window must not freeze. The engine itself is never restarted for a setting. Once the window
is shown, every keyring call goes through ``ui.accounts`` for the same reason.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox

from toolbox_uploader import paths
from toolbox_uploader import settings as settings_io
from toolbox_uploader.core.engine import Engine, EngineBusyError, EngineConfig
from toolbox_uploader.core.events import EngineEvent
from toolbox_uploader.core.upload_job import Target
from toolbox_uploader.settings import Settings
from toolbox_uploader.ui import icons
from toolbox_uploader.ui.accounts import Accounts, token_of
from toolbox_uploader.ui.background_priority import background_threads
from toolbox_uploader.ui.bridge import EngineBridge
from toolbox_uploader.ui.main_window import MainWindow
from toolbox_uploader.ui.settings_dialog import SettingsDialog, no_keyring_text
from toolbox_uploader.ui.single_instance import InstanceServer, hand_over
from toolbox_uploader.ui.tray import TrayController

if TYPE_CHECKING:
    from toolbox_uploader.server.embedded import EmbeddedServer, ServerHandle

log = logging.getLogger(__name__)

#: How long quitting waits for a settings change still stopping or starting things.
_SWITCH_JOIN_SECONDS = 60.0
#: How long quitting waits for a folder dropped just before to be read, so that its files
#: are in the queue at the next start.
_DROPS_GRACE_SECONDS = 4.0
#: How long quitting waits for a sign-in or sign-out still waiting for the keyring.
_SIGN_IN_GRACE_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class ServerTarget:
    url: str
    token: str | None
    server_key: str | None
    local: bool


def start_local_server() -> EmbeddedServer:
    """The built-in server, on the port it had last time so earlier links keep working."""
    from toolbox_uploader.server.config import ServerConfig
    from toolbox_uploader.server.embedded import EmbeddedServer

    server = EmbeddedServer(ServerConfig(data_dir=paths.server_data_dir(), port=0),
                            port_file=paths.local_server_port_path())
    server.start()
    return server


def _local_target(server: EmbeddedServer) -> ServerTarget:
    from toolbox_uploader.server.embedded import LOCAL_SERVER_KEY

    handle = server.handle
    assert handle is not None
    return ServerTarget(handle.url, handle.token, LOCAL_SERVER_KEY, local=True)


def engine_options(s: Settings) -> dict[str, Any]:
    """The settings the engine works by; all of them it can take over while running."""
    return {
        "concurrency": s.concurrency, "optimize_images": s.optimize_images,
        "max_image_edge": s.max_image_edge, "image_quality": s.image_quality,
        "strip_location": s.strip_location, "bandwidth_limit": s.bandwidth_limit,
        "auto_resume": s.auto_resume, "default_category": s.default_category,
    }


def _make_engine(s: Settings, t: ServerTarget, store_path: Path) -> Engine:
    return Engine(EngineConfig(store_path=store_path, server_url=t.url, token=t.token,
                               server_key=t.server_key, **engine_options(s)))


def remote_target(url: str) -> ServerTarget:
    """A school server and its token. Asks the keyring: not on the GUI thread once the
    window is shown. A failing keyring means "not signed in", never an app that cannot start."""
    return ServerTarget(url, token_of(url), None, local=False)


@dataclass(eq=False)
class _Switch:
    """A change of server on its way, done in steps on a worker thread (``run``):

    - to a school server: the keyring is asked for its token (a locked keyring waits for
      its unlock prompt); then, once the engine sends there, the built-in server stops;
    - to the built-in server: it starts, and the engine moves to it afterwards.
    """

    url: str  # "": the built-in server
    target: ServerTarget | None = None  # known once the keyring answered or the server runs
    left_local: bool = False  # the engine was moved away from the built-in server
    old_server: EmbeddedServer | None = None
    cancelled: bool = False  # set when the app quits meanwhile: start nothing new
    server: EmbeddedServer | None = None
    error: BaseException | None = None
    thread: threading.Thread | None = None

    @property
    def starts_or_stops_a_server(self) -> bool:
        return self.old_server is not None or not self.url

    def run(self) -> None:
        try:
            if self.url and self.target is None:
                self.target = remote_target(self.url)
                return
            if self.old_server is not None:
                self.old_server.stop()
            if not self.url and not self.cancelled:
                self.server = start_local_server()
                self.target = _local_target(self.server)
        except Exception as exc:  # shown by the app when it takes the result
            log.exception("applying the settings failed")
            self.error = exc


class UploaderApp(QObject):
    """One running desktop app.

    Signals: ``settings_applied()`` once a settings change has fully taken effect (a server
    switch included: the old local server stopped, or the new one running);
    ``stopped()`` once ``shutdown`` finished.
    """

    settings_applied = Signal()
    stopped = Signal()
    _switch_finished = Signal(object)  # worker thread -> GUI thread (queued)

    def __init__(self, settings: Settings, *, server_url: str | None = None,
                 store_path: Path | None = None, instance_name: str | None = None,
                 listen: bool = True, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.server_override = server_url  # --server: this run only, not saved
        self.store_path = store_path or paths.session_db_path()
        self.local_server: EmbeddedServer | None = None  # while the local server is in use
        self.target: ServerTarget | None = None
        self.engine: Engine | None = None
        self._switch: _Switch | None = None
        self.accounts = Accounts(self)  # every keyring call once the window is shown
        self._token_ticket = 0  # the look-up whose answer is awaited
        self._links: ServerHandle | None = None  # where the local server listens now
        self._unsubscribe = None
        self._stopped = False
        # A settings worker emits only under this lock and before ``shutdown``: a signal
        # emitted on the app while it is being destroyed corrupts the heap.
        self._emitting = threading.Lock()
        self.bridge = EngineBridge(self)
        self.window = MainWindow(self.bridge, None, settings.default_category)
        self.window.keep_running_in_tray = settings.keep_running_in_tray
        self.window.drop_zone.set_photo_settings(settings.optimize_images,
                                                 settings.strip_location)
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
        self._switch_finished.connect(self._on_switch_finished,
                                      Qt.ConnectionType.QueuedConnection)
        self.accounts.signed_in.connect(self._on_credentials_changed)
        self.accounts.signed_out.connect(self._on_credentials_changed)
        self.accounts.found.connect(self._on_token_found)
        self.accounts.not_kept.connect(self._on_not_kept)
        if self.instance is not None:
            self.instance.paths_received.connect(self.on_handed_over)

    @property
    def switching(self) -> bool:
        """A settings change is still stopping or starting things in the background."""
        return self._switch is not None

    # ------------------------------------------------------------------ start and stop
    def start(self) -> None:
        """Start the server (if local) and the engine, restore the queue, show the window."""
        if self.instance is not None and not self.instance.listen():
            log.warning("could not listen for other launches on %s", self.instance.name)
        with background_threads():
            url = self._wanted_url()
            if url:  # before the window shows: a keyring prompt may come first
                self.target = remote_target(url)
            else:
                self._use_local_server(start_local_server())
            assert self.target is not None
            self.engine = _make_engine(self.settings, self.target, self.store_path)
            self.engine.start()
        self._show_target()
        self._attach(self.engine)
        self.window.restore_window_state()
        self.window.show()
        for problem in self.settings.warnings:
            self.window.statusBar().showMessage(f"Settings: {problem}", 15000)

    def _wanted_url(self) -> str:
        """The server the settings ask for; ``""`` is the local server."""
        return self.server_override or self.settings.server_url

    def _use_local_server(self, server: EmbeddedServer) -> None:
        self.local_server = server
        self._links = server.handle
        self.target = _local_target(server)

    def _show_target(self) -> None:
        t = self.target
        if t is None:
            return
        self.window.model.set_current_server(
            Target.build(t.url, None, t.token, t.server_key).server_key)
        if t.local:
            self.window.set_server_text(
                f"Local server — files kept in {paths.server_data_dir()}")
        else:
            note = "" if t.token else " — not signed in (Settings → Sign in)"
            self.window.set_server_text(f"Server: {t.url}", note)

    def _listener(self, events: list[EngineEvent]) -> None:
        """Runs on the engine thread: links brought up to date, then handed to the bridge."""
        handle = self._links
        if handle is not None:
            from toolbox_uploader.server.embedded import current_links

            events = current_links(events, handle)
        self.bridge.listener(events)

    def _attach(self, engine: Engine) -> None:
        self.engine = engine
        self._unsubscribe = engine.subscribe(self._listener)
        self.window.engine = engine

    def _stop_engine(self) -> None:
        engine, self.engine = self.engine, None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.window.engine = None
        if engine is not None:
            engine.stop(drops_grace=_DROPS_GRACE_SECONDS)

    def _stop_local_server(self) -> None:
        if self.local_server is not None:
            self.local_server.stop()
            self.local_server = None

    def shutdown(self) -> None:
        """Stop the engine (every unfinished item stays resumable), then the local server."""
        if self._stopped:
            return
        with self._emitting:
            self._stopped = True
        job, self._switch = self._switch, None
        if job is not None:  # let it finish, then stop whatever it started
            job.cancelled = True
            # A keyring still waiting for its unlock prompt is left to itself.
            if job.thread is not None and job.starts_or_stops_a_server:
                job.thread.join(_SWITCH_JOIN_SECONDS)
                if job.thread.is_alive():
                    log.warning("a settings change was still running when the app quit")
            self.local_server = self.local_server or job.server
        self._stop_engine()
        self._stop_local_server()
        if not self.accounts.finish_changes(_SIGN_IN_GRACE_SECONDS):
            log.warning("a sign-in or sign-out was still waiting for the keyring at quit")
        self.accounts.close()  # a look-up answering later must not reach a dead object
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
        dialog = SettingsDialog(self.settings, self.window, accounts=self.accounts)
        dialog.setObjectName("settingsDialog")
        dialog.accepted.connect(lambda: self.apply_settings(dialog.settings()))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _on_credentials_changed(self, url: str) -> None:
        """Signed in or out: the token of the server in use is asked for again."""
        current = self.target
        if current is not None and not current.local and current.url == url:
            self._token_ticket = self.accounts.look_up(url)

    def _on_not_kept(self, url: str, action: str, error: Exception) -> None:
        """The keyring refused a sign-in or sign-out, maybe after its dialog was closed:
        said in the window too, or the teacher would wait for uploads that wait for them."""
        self.window.statusBar().showMessage(f"{url}: {no_keyring_text(action, error)}", 60000)

    def _on_token_found(self, ticket: int, url: str, token: str | None) -> None:
        current = self.target
        if ticket != self._token_ticket or current is None or current.local \
                or current.url != url:
            return  # an answer to an older question, or for a server left since
        if token != current.token:
            self.target = ServerTarget(url, token, None, False)
            if self.engine is not None:
                self.engine.set_server(url, None, token, None)
        self._show_target()

    def apply_settings(self, new: Settings) -> None:
        """Save, then apply to the running engine (uploads carry on). Returns at once;
        ``settings_applied`` tells when a change of server has taken effect."""
        old, self.settings = self.settings, new
        try:
            settings_io.save(new)
        except (OSError, settings_io.SettingsError) as exc:
            QMessageBox.warning(self.window, "Settings not saved", str(exc))
        if new.default_category != old.default_category:  # else the drop zone's own choice stays
            self.window.set_default_category(new.default_category)
        self.window.keep_running_in_tray = new.keep_running_in_tray
        self.window.drop_zone.set_photo_settings(new.optimize_images, new.strip_location)
        self.tray.notifications_enabled = new.notifications
        self._reconfigure()

    def _reconfigure(self) -> None:
        """Bring the engine and the server in line with ``self.settings``.

        While a server switch is still on its way this waits; its end calls here again, so
        the latest settings win whatever the teacher pressed in between."""
        if self._stopped or self.target is None:
            return
        if self.engine is not None:
            self.engine.update_config(**engine_options(self.settings))
        url = self._wanted_url()
        if self._switch is not None or url == ("" if self.target.local else self.target.url):
            return
        self._switch = _Switch(url)
        self._start_switch_step(self._switch)

    def _start_switch_step(self, job: _Switch) -> None:
        job.thread = threading.Thread(target=self._run_switch, args=(job,),
                                      name="toolbox-settings", daemon=True)
        with background_threads():  # the server it starts inherits the priority
            job.thread.start()

    def _run_switch(self, job: _Switch) -> None:
        """Worker thread: the slow part, then back to the GUI thread by a queued signal."""
        job.run()
        with self._emitting:
            if not self._stopped:  # else shutdown took care of what it started
                self._switch_finished.emit(job)

    def _use_target(self, target: ServerTarget | None) -> None:
        if target is None or target == self.target:
            return
        self.target = target
        self._show_target()
        if self.engine is not None:
            self.engine.set_server(target.url, None, target.token, target.server_key)

    def _on_switch_finished(self, job: _Switch) -> None:
        if job is not self._switch:
            return  # the app quit meanwhile and took care of what it started
        if job.url and job.error is None and not job.left_local:
            # The token is known. The engine leaves the built-in server first (its
            # uploads there stop, resumable), then that server stops in the background.
            job.left_local = True
            job.old_server, self.local_server = self.local_server, None
            self._use_target(job.target)
            if job.old_server is not None:
                self._start_switch_step(job)
                return
        self._switch = None
        if job.server is not None:
            self.local_server = job.server
            self._links = job.server.handle
        if not job.left_local:  # else in use already, maybe with a token signed in since
            self._use_target(job.target)
        if self.target is not None and not self.target.local:
            self._on_credentials_changed(self.target.url)  # signed in meanwhile?
        if job.error is not None:  # no second try on its own: it would fail again
            self.window.statusBar().showMessage(f"Settings not applied: {job.error}", 30000)
            QMessageBox.warning(self.window, "Settings not applied",
                                f"ToolBox Uploader could not apply the settings: {job.error}")
        else:
            self._reconfigure()  # changes made meanwhile
        if self._switch is None:
            self.settings_applied.emit()


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
