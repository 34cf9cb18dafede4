"""The system tray icon: overall progress in its tooltip, a menu, and end-of-batch notices.

A batch "finishes" when nothing is left to do (every file done, failed or refused) after
something was in flight; then one notification says how it went. A file that failed but
waits for an automatic retry (offline, server busy) is not finished: the window's queue
says which those are, whatever the engine's totals count them as. Where the desktop has no
tray (or the platform is offscreen) the controller still tracks state, so the window's
"keep uploading in the tray?" question is only asked when a tray exists.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from toolbox_uploader.core.events import BatchProgress
from toolbox_uploader.ui import formatting as fmt
from toolbox_uploader.ui import icons
from toolbox_uploader.ui.main_window import MainWindow


def batch_message(progress: BatchProgress) -> tuple[str, str] | None:
    """(title, text) of the notice for a finished batch; ``None`` when nothing happened."""
    if not progress.files_total:
        return None
    refused = progress.files_failed
    done = progress.files_done
    if refused:
        return ("Some files were not uploaded",
                f"{done} uploaded, {refused} need your attention. Open the app to see why.")
    if done == 1:
        return ("Upload finished", "The file is on the server.")
    return ("Uploads finished", f"All {done} files are on the server.")


class TrayController(QObject):
    """Signals: ``show_requested()``, ``quit_requested()``, ``notified(str title, str text)``."""

    show_requested = Signal()
    quit_requested = Signal()
    notified = Signal(str, str)

    def __init__(self, window: MainWindow, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.notifications_enabled = True
        self._window = window
        self._busy = False
        self._tooltip_text = "ToolBox Uploader"
        self._tray: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self._tray = QSystemTrayIcon(icons.app_icon(), self)
            menu = QMenu(window)
            show = QAction("Show ToolBox Uploader", menu)
            show.triggered.connect(self.show_requested)
            quit_ = QAction("Quit", menu)
            quit_.triggered.connect(self.quit_requested)
            menu.addAction(show)
            menu.addSeparator()
            menu.addAction(quit_)
            self._tray.setContextMenu(menu)
            self._tray.activated.connect(self._on_activated)
            self._tray.setToolTip("ToolBox Uploader")
            self._tray.show()

    @property
    def available(self) -> bool:
        return self._tray is not None

    @property
    def tooltip(self) -> str:
        return self._tray.toolTip() if self._tray is not None else self._tooltip_text

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger,
                      QSystemTrayIcon.ActivationReason.DoubleClick):
            self.show_requested.emit()

    def on_batch_progress(self, progress: BatchProgress) -> None:
        # The window's rows are up to date: the bridge updates them before the totals.
        waiting = self._window.model.waiting_to_retry()
        working = self._window.unfinished_uploads - waiting
        finished = progress.files_done + progress.files_failed
        busy = progress.files_total > 0 and (finished < progress.files_total or waiting > 0)
        if busy and progress.bytes_total:
            share = progress.bytes_done / progress.bytes_total
            eta = progress.eta if working else None  # no estimate while all wait
            text = (f"ToolBox Uploader — {share:.0%}\n"
                    + fmt.batch_text(progress.files_done, progress.files_total,
                                     progress.bytes_done, progress.bytes_total, eta))
        elif busy:
            text = f"ToolBox Uploader — {progress.files_done} of {progress.files_total} files"
        else:
            text = "ToolBox Uploader — nothing to upload"
        if busy and waiting:
            text += f"\n{waiting} waiting to retry"
        self._tooltip_text = text
        if self._tray is not None:
            self._tray.setToolTip(text)
        if self._busy and not busy:
            message = batch_message(progress)
            if message is not None:
                self.notify(*message)
        self._busy = busy

    def notify(self, title: str, text: str) -> None:
        if not self.notifications_enabled:
            return
        self.notified.emit(title, text)
        if self._tray is not None and QSystemTrayIcon.supportsMessages():
            self._tray.showMessage(title, text, icons.app_icon(), 8000)

    def hide(self) -> None:
        if self._tray is not None:
            self._tray.hide()
