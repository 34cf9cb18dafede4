"""Painted cells: the progress bar and the name with its folder.

Both paint with the current ``QStyle`` instead of creating widgets, so a queue of 10,000 rows
costs nothing but the rows on screen, and the bars look native on every platform.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
)

from toolbox_uploader.core.states import ItemState
from toolbox_uploader.ui.cell_delegate import CellDelegate, source_item
from toolbox_uploader.ui.queue_model import folder_of

ModelIndex = QModelIndex | QPersistentModelIndex
#: States whose row shows a bar even before the first byte; others only once bytes moved.
_BAR = frozenset({ItemState.UPLOADING, ItemState.VERIFYING, ItemState.PAUSED, ItemState.FAILED})


class ProgressDelegate(CellDelegate):
    """Paints a ``QStyleOptionProgressBar`` from ``ProgressRole``."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        # Background (selection, state tint) as any cell, without the "42%" display text.
        base = QStyleOptionViewItem(option)
        self.initStyleOption(base, index)
        base.text = ""
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, base, painter, widget)
        found = source_item(index)
        if found is None:
            return
        item = found[1]
        state = item.state
        progress = float(item.progress or 0.0)
        # Finished, refused and not-yet-started rows say it in words; a bar would be noise.
        if state not in _BAR:
            return
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(4, 5, -4, -5)
        bar.minimum = 0
        bar.maximum = 1000
        bar.progress = round(progress * 1000)
        bar.text = f"{progress:.0%}"
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        bar.state = option.state | QStyle.StateFlag.State_Horizontal
        if state is ItemState.PAUSED:
            bar.state &= ~QStyle.StateFlag.State_Enabled
        bar.palette = option.palette
        bar.fontMetrics = option.fontMetrics
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, widget)

    def sizeHint(self, option: QStyleOptionViewItem, index: ModelIndex) -> QSize:
        return QSize(140, max(26, option.fontMetrics.height() + 10))


class NameDelegate(CellDelegate):
    """The file name, then its relative folder, dimmer ("fractions.pdf  Maths/Week 1")."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        found = source_item(index)
        folder = folder_of(found[1]) if found is not None else ""
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        if not folder:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
            return
        assert found is not None
        name = opt.text
        opt.text = ""
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        text_rect = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, opt, widget)
        metrics = opt.fontMetrics
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        group = QPalette.ColorGroup.Normal
        name_color = opt.palette.color(
            group, QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        foreground = found[0].foreground(found[1], found[2])
        if foreground is not None and not selected:
            name_color = foreground
        dim = opt.palette.color(
            group,
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.PlaceholderText,
        )
        painter.save()
        elided_name = metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, text_rect.width())
        painter.setPen(name_color)
        painter.drawText(text_rect, int(Qt.AlignmentFlag.AlignVCenter), elided_name)
        used = metrics.horizontalAdvance(elided_name) + metrics.horizontalAdvance("   ")
        rest = QRect(text_rect.left() + used, text_rect.top(),
                     max(0, text_rect.width() - used), text_rect.height())
        if rest.width() > metrics.horizontalAdvance("…") * 2:
            painter.setPen(dim)
            painter.drawText(rest, int(Qt.AlignmentFlag.AlignVCenter),
                             metrics.elidedText(folder, Qt.TextElideMode.ElideLeft, rest.width()))
        painter.restore()
