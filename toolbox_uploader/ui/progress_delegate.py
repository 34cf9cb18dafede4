"""Painted cells: the progress bar and the name with its folder.

Both paint with the current ``QStyle`` instead of creating widgets, so a queue of 10,000 rows
costs nothing but the rows on screen, and the bars look native on every platform.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QSize, Qt
from PySide6.QtGui import QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
)

from toolbox_uploader.core.events import ItemSnapshot
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.ui import paint_cache
from toolbox_uploader.ui.cell_delegate import CellDelegate, source_item
from toolbox_uploader.ui.queue_model import folder_of

ModelIndex = QModelIndex | QPersistentModelIndex
#: States whose row shows a bar even before the first byte.
_BAR = frozenset({ItemState.UPLOADING, ItemState.VERIFYING, ItemState.PAUSED, ItemState.FAILED})
#: States that say how they ended in words: no bar, whatever was sent.
_NO_BAR = frozenset({ItemState.DONE, ItemState.REJECTED, ItemState.CANCELLED})


def shows_bar(item: ItemSnapshot) -> bool:
    """Whether the row's progress cell has a bar. A row waiting for a slot with part of its
    file on the server (resumed after a pause, or back in the queue after a restart or a
    server switch) keeps its bar: without it "Paused at 40%" turned into a bare "Ready",
    as if what was sent had been lost."""
    return item.state in _BAR or (item.state not in _NO_BAR and item.bytes_sent > 0)


class ProgressDelegate(CellDelegate):
    """Paints a ``QStyleOptionProgressBar`` from the row's progress.

    PySide already hands each call its own copy of the option (and of the index), so the
    option is filled in place rather than copied again, and the bar's option is kept between
    calls: the delegate adds no Qt value made and dropped per cell (see ``paint_cache``).
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._bar = QStyleOptionProgressBar()
        self._bar.minimum = 0
        self._bar.maximum = 1000
        self._bar.textVisible = True
        self._bar.textAlignment = Qt.AlignmentFlag.AlignCenter

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        found = source_item(index)
        # Background (selection, state tint) as any cell, without the "42%" display text.
        self.initStyleOption(option, index)
        option.text = ""
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, option, painter, widget)
        if found is None:
            return
        item = found[1]
        state = item.state
        # Finished, refused and not-yet-started rows say it in words; a bar would be noise.
        if not shows_bar(item):
            return
        progress = float(item.progress or 0.0)
        bar = self._bar
        cell = option.rect
        bar.rect.setRect(cell.x() + 4, cell.y() + 5, cell.width() - 8, cell.height() - 10)
        bar.progress = round(progress * 1000)
        bar.text = f"{progress:.0%}"
        bar.state = option.state | QStyle.StateFlag.State_Horizontal
        if state is ItemState.PAUSED:
            bar.state &= ~QStyle.StateFlag.State_Enabled
        bar.palette = option.palette
        bar.fontMetrics = option.fontMetrics
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, widget)

    def sizeHint(self, option: QStyleOptionViewItem, index: ModelIndex) -> QSize:
        return QSize(140, max(26, option.fontMetrics.height() + 10))


class NameDelegate(CellDelegate):
    """The file name, then its relative folder, dimmer ("fractions.pdf  Maths/Week 1").

    Painted with integer geometry and kept colours, like ``ProgressDelegate``.
    """

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        found = source_item(index)
        folder = folder_of(found[1]) if found is not None else ""
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        if not folder or found is None:
            self.initStyleOption(option, index)
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, option, painter, widget)
            return
        palette = option.palette  # before the row's colours are set into it
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        text_role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        dim_role = (QPalette.ColorRole.HighlightedText if selected
                    else QPalette.ColorRole.PlaceholderText)
        name_color = paint_cache.palette_color(palette, text_role)
        dim = paint_cache.palette_color(palette, dim_role)
        foreground = found[0].foreground(found[1], found[2])
        if foreground is not None and not selected:
            name_color = foreground
        self.initStyleOption(option, index)
        name = option.text
        option.text = ""
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, option, painter, widget)
        cell = option.rect
        margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, widget) + 1
        left, top, height = cell.x() + margin, cell.y(), cell.height()
        width = max(0, cell.width() - 2 * margin)
        metrics = option.fontMetrics
        align = int(Qt.AlignmentFlag.AlignVCenter)
        painter.save()
        elided_name = metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, width)
        painter.setPen(name_color)
        painter.drawText(left, top, width, height, align, elided_name)
        used = metrics.horizontalAdvance(elided_name) + metrics.horizontalAdvance("   ")
        hint = folder_hint(metrics, folder, max(0, width - used))
        if hint:
            painter.setPen(dim)
            painter.drawText(left + used, top, width - used, height, align, hint)
        painter.restore()


def folder_hint(metrics: QFontMetrics, folder: str, room: int) -> str:
    """The folder as it fits in ``room`` pixels: whole, its last folders with whole names
    ("…Week 1", "…Science/Week 1"), or nothing. Cut only between folders: a few letters of
    one ("…ce", "…hotos", "…nce/Week 1") say nothing and only crowd the name."""
    if metrics.horizontalAdvance(folder) <= room:
        return folder
    parts = folder.rstrip("/").split("/")
    for first in range(1, len(parts)):  # the longest end that fits
        end = "…" + "/".join(parts[first:])
        if metrics.horizontalAdvance(end) <= room:
            return end
    return ""
