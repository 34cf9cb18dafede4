"""Turning drops and pastes of files into paths, without touching the disk.

The GUI thread only converts ``file://`` URLs into ``Path`` objects; whether a path is a
folder, what is inside it and which files are OS junk is decided by the engine's walker on
the engine's thread (``Engine.add_paths``), so dropping a folder of 10,000 files never
freezes the window.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from toolbox_uploader.ui import icons


def local_paths(mime: QMimeData | None) -> list[Path]:
    """Local file paths carried by drag-and-drop or clipboard data (other URLs ignored)."""
    if mime is None or not mime.hasUrls():
        return []
    out: list[Path] = []
    for url in mime.urls():
        if url.isLocalFile():
            local = url.toLocalFile()
            if local:
                out.append(Path(local))
    return out


def pasted_paths(mime: QMimeData | None) -> list[Path]:
    """What a paste adds: copied files (``local_paths``), or else paths copied as text,
    one per line ("Copy as path" in Windows Explorer quotes each; a file manager's path
    bar or a terminal gives them bare, or as ``file://`` URLs).

    Only a text made of absolute paths counts: a relative one would be read from wherever
    the app was started, and a sentence that mentions a path is not a list of files.
    Nothing is looked up on the disk here; the engine says which paths do not exist."""
    found = local_paths(mime)
    if found or mime is None or not mime.hasText():
        return found
    out: list[Path] = []
    for line in mime.text().splitlines():
        text = line.strip()
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
            text = text[1:-1].strip()
        if not text:
            continue
        if text.startswith("file:"):
            url = QUrl(text)
            text = url.toLocalFile() if url.isLocalFile() else ""
        path = Path(text)
        if not text or not path.is_absolute():
            return []
        out.append(path)
    return out


def drop_hint(optimize_images: bool = True, strip_location: bool = True) -> str:
    """The zone's second line: what happens to photos with the settings as they are (with
    "Make photos smaller" off, a promise to shrink them would be false)."""
    if optimize_images:
        done = "checked and made smaller"
    elif strip_location:
        done = "checked and their location data removed"
    else:
        done = "checked"
    return f"Folders keep their structure. Photos are {done} before they are sent."


class DropZone(QFrame):
    """The "drop files or folders here" area at the top of the window.

    Signals: ``paths_dropped(list[Path])``.
    """

    paths_dropped = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dropZone")
        self.setAcceptDrops(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName("Drop zone")
        self.setAccessibleDescription(
            "Drop files or folders here to add them to the upload queue")
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self._icon = QLabel(self)
        self._icon.setPixmap(icons.icon("drop-target").pixmap(QSize(28, 28)))
        title = QLabel("Drop files or folders here", self)
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        title.setFont(font)
        hint = QLabel(drop_hint(), self)
        self.hint = hint
        hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        hint.setWordWrap(True)
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(title)
        text.addWidget(hint)
        self._buttons = QHBoxLayout()
        self._buttons.setSpacing(8)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(14)
        layout.addWidget(self._icon, 0, Qt.AlignmentFlag.AlignVCenter)
        layout.addLayout(text, 1)
        layout.addLayout(self._buttons)
        self._set_highlight(False)

    def set_photo_settings(self, optimize_images: bool, strip_location: bool) -> None:
        self.hint.setText(drop_hint(optimize_images, strip_location))

    def add_button(self, button: QWidget) -> None:
        """Place a control ("Add files…", the category chooser) on the zone's right side."""
        self._buttons.addWidget(button)

    def refresh_palette(self) -> None:
        self._set_highlight(bool(self.property("dragOver")))

    def _set_highlight(self, on: bool) -> None:
        self.setProperty("dragOver", on)
        role = QPalette.ColorRole.Highlight if on else QPalette.ColorRole.Mid
        color = self.palette().color(role).name()
        background = "palette(alternate-base)" if not on else "palette(base)"
        self.setStyleSheet(
            f"#dropZone {{ border: 2px dashed {color}; border-radius: 10px;"
            f" background: {background}; }}"
        )

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_paths(event.mimeData()):
            event.acceptProposedAction()
            self._set_highlight(True)
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if local_paths(event.mimeData()):
            event.acceptProposedAction()

    def dragLeaveEvent(self, event: object) -> None:
        self._set_highlight(False)

    def dropEvent(self, event: QDropEvent) -> None:
        self._set_highlight(False)
        found = local_paths(event.mimeData())
        if not found:
            event.ignore()
            return
        event.acceptProposedAction()
        self.paths_dropped.emit(found)
