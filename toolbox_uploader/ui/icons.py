"""The app's SVG icons, drawn at whatever size and pixel ratio the screen asks for.

Monochrome action icons use ``currentColor``; ``PaletteSvgIconEngine`` replaces it with the
palette's text colour (or the disabled / highlighted-text colour for those modes) each time
it renders, so the icons follow a light or dark system theme and stay crisp on high-DPI
screens. The coloured status icons are used as they are.

Resources are found (in order) under ``TOOLBOX_UPLOADER_RESOURCES``, a PyInstaller bundle
(``sys._MEIPASS/resources``), the source tree (``<repo>/resources``, which is what an
editable install sees) and ``<prefix>/share/toolbox-uploader/resources``, where a wheel puts
them (``[tool.setuptools.data-files]`` in ``pyproject.toml``); see also
``packaging/toolbox-uploader.spec``.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from functools import cache, lru_cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QPoint, QRect, QSize, Qt
from PySide6.QtGui import QGuiApplication, QIcon, QIconEngine, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

from toolbox_uploader.core.events import ItemSnapshot
from toolbox_uploader.core.states import ItemState

RESOURCES_ENV = "TOOLBOX_UPLOADER_RESOURCES"
APP_ID = "org.toolboxuploader.ToolBoxUploader"


def resources_dir() -> Path:
    override = os.environ.get(RESOURCES_ENV)
    if override:
        return Path(override)
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "resources").is_dir():
        return checkout / "resources"
    # Installed from a wheel: under the scheme's data folder (the venv or system prefix,
    # or the user base for ``pip install --user``).
    bases = [sysconfig.get_path("data"), site.getuserbase(), sys.prefix]
    found = [Path(b) / "share" / "toolbox-uploader" / "resources" for b in bases if b]
    return next((path for path in found if path.is_dir()), found[-1])


def icon_path(name: str) -> Path:
    return resources_dir() / "icons" / f"{name}.svg"


class PaletteSvgIconEngine(QIconEngine):
    """Renders one SVG, with ``currentColor`` set from the application palette."""

    def __init__(self, svg: bytes) -> None:
        super().__init__()
        self._svg = svg
        self._renderers: dict[str, QSvgRenderer] = {}

    def _renderer(self, mode: QIcon.Mode) -> QSvgRenderer:
        palette = QGuiApplication.palette()
        if mode == QIcon.Mode.Disabled:
            color = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
        elif mode == QIcon.Mode.Selected:
            color = palette.color(QPalette.ColorRole.HighlightedText)
        else:
            color = palette.color(QPalette.ColorRole.WindowText)
        key = color.name()
        renderer = self._renderers.get(key)
        if renderer is None:
            renderer = QSvgRenderer(QByteArray(self._svg.replace(b"currentColor", key.encode())))
            self._renderers[key] = renderer
        return renderer

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        self._renderer(mode).render(painter, rect)

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        pixmap = QPixmap(size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        self.paint(painter, QRect(QPoint(0, 0), size), mode, state)
        painter.end()
        return pixmap

    def scaledPixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State,
                     scale: float) -> QPixmap:
        pixmap = self.pixmap(size * scale, mode, state)
        pixmap.setDevicePixelRatio(scale)
        return pixmap

    def clone(self) -> QIconEngine:
        return PaletteSvgIconEngine(self._svg)


@cache
def icon(name: str) -> QIcon:
    """A named icon from ``resources/icons`` (read once, then cached)."""
    path = icon_path(name)
    try:
        data = path.read_bytes()
    except OSError:
        return QIcon()
    if b"currentColor" in data:
        return QIcon(PaletteSvgIconEngine(data))
    return QIcon(str(path))


def paint_icon(painter: QPainter, name: str, x: int, y: int, width: int, height: int,
               mode: QIcon.Mode) -> None:
    """Draw a named icon into the box (x, y, width, height) from a cached pixmap.

    Why not ``QIcon.paint``: for the palette-coloured icons that calls the Python
    ``PaletteSvgIconEngine`` from C++ and renders the SVG again on every repaint; in the
    queue that is a GIL hand-over per button per row while uploads keep other threads busy.
    Integer geometry and the kept theme key make no Qt value per call (see ``paint_cache``).
    """
    device = painter.device()
    ratio = device.devicePixelRatioF() if device is not None else 1.0
    painter.drawPixmap(x, y, width, height,
                       _pixmap(name, width, height, mode, ratio, _theme_key()))


@cache
def _theme_key() -> tuple[str, ...]:
    """The palette colours the SVGs are drawn with; ``forget_theme`` when the palette changes."""
    palette = QGuiApplication.palette()
    return (palette.color(QPalette.ColorRole.WindowText).name(),
            palette.color(QPalette.ColorRole.HighlightedText).name(),
            palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText).name())


def forget_theme() -> None:
    """The application palette changed (light/dark switch): draw the icons again."""
    _theme_key.cache_clear()


@lru_cache(maxsize=512)
def _pixmap(name: str, width: int, height: int, mode: QIcon.Mode, ratio: float,
            theme: tuple[str, ...]) -> QPixmap:
    """``theme`` (the palette colours the SVG is drawn with) is only part of the cache key."""
    return icon(name).pixmap(QSize(width, height), ratio, mode)


@cache
def app_icon() -> QIcon:
    return QIcon(str(resources_dir() / f"{APP_ID}.svg"))


_STATUS_ICONS: dict[ItemState, str] = {
    ItemState.QUEUED: "status-queued",
    ItemState.VALIDATING: "status-checking",
    ItemState.OPTIMIZING: "status-checking",
    ItemState.READY: "status-queued",
    ItemState.UPLOADING: "status-working",
    ItemState.VERIFYING: "status-checking",
    ItemState.PAUSED: "status-paused",
    ItemState.DONE: "status-done",
    ItemState.FAILED: "status-failed",
    ItemState.REJECTED: "status-rejected",
    ItemState.CANCELLED: "status-cancelled",
}


def load_status_icons() -> None:
    """Read the status icons now (the window calls this when it is built): the first row
    in a new state would otherwise read its SVG from disk in the middle of a repaint."""
    for name in {*_STATUS_ICONS.values(), "status-done-notes", "status-warning"}:
        icon(name)


def status_icon(item: ItemSnapshot) -> QIcon:
    if item.removed_from_server:
        return icon("status-cancelled")
    if item.state is ItemState.DONE and item.warnings:
        return icon("status-done-notes")
    if item.warnings and item.state not in (ItemState.FAILED, ItemState.REJECTED,
                                            ItemState.CANCELLED, ItemState.UPLOADING):
        return icon("status-warning")
    return icon(_STATUS_ICONS.get(item.state, "status-queued"))
