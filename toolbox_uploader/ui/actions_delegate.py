"""Per-row action buttons, painted rather than created as widgets.

A ``QPushButton`` per row would mean 10,000 widgets for a big folder; this delegate paints
the buttons of the visible rows and maps clicks back to actions in ``editorEvent``. The same
actions are in the row's context menu and on the keyboard (Space, Delete, Enter), which is
how screen-reader users reach them.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QHelpEvent, QIcon, QMouseEvent, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QStyle,
    QStyleOption,
    QStyleOptionViewItem,
    QToolTip,
    QWidget,
)

from toolbox_uploader.ui import icons, paint_cache
from toolbox_uploader.ui.cell_delegate import CellDelegate, source_item
from toolbox_uploader.ui.queue_model import (
    ACTION_LABELS,
    ActionsRole,
    ItemIdRole,
    RowAction,
)

ModelIndex = QModelIndex | QPersistentModelIndex

BUTTON = 26
GAP = 4
MARGIN = 4
#: Actions shown as words instead of an icon (a "Why?" is clearer than a question mark).
TEXT_ACTIONS = frozenset({RowAction.WHY})
ICON_NAMES: dict[RowAction, str] = {
    RowAction.PAUSE: "action-pause",
    RowAction.RESUME: "action-resume",
    RowAction.RETRY: "action-retry",
    RowAction.WHY: "action-why",
    RowAction.COPY_LINK: "action-link",
    RowAction.OPEN: "action-open",
    RowAction.REMOVE: "action-remove",
}


class ActionsDelegate(CellDelegate):
    """Signals: ``action_triggered(int item_id, str action)`` when a painted button is clicked."""

    action_triggered = Signal(int, str)

    def __init__(self, parent: QAbstractItemView) -> None:
        super().__init__(parent)
        self._view = parent
        self._hover: tuple[int, RowAction] | None = None
        self._pressed: tuple[int, RowAction] | None = None

    @staticmethod
    def _widths(actions: tuple[RowAction, ...], option: QStyleOptionViewItem) -> list[int]:
        return [
            option.fontMetrics.horizontalAdvance(ACTION_LABELS[action]) + 14
            if action in TEXT_ACTIONS else BUTTON
            for action in actions
        ]

    def _button_boxes(self, left: int, top: int, width: int, height: int,
                      actions: tuple[RowAction, ...],
                      option: QStyleOptionViewItem) -> list[tuple[RowAction, int, int, int]]:
        """(action, x, y, width) of each button in a cell, right-aligned so "Remove"
        (always last) lines up in one column on every row whatever comes before it."""
        widths = self._widths(actions, option)
        total = sum(widths) + GAP * max(0, len(widths) - 1)
        x = max(left + MARGIN, left + width - MARGIN - total)
        y = top + (height - BUTTON) // 2
        out: list[tuple[RowAction, int, int, int]] = []
        for action, button in zip(actions, widths, strict=True):
            out.append((action, x, y, button))
            x += button + GAP
        return out

    def button_rects(self, rect: QRect, actions: tuple[RowAction, ...],
                     option: QStyleOptionViewItem) -> list[tuple[RowAction, QRect]]:
        """The buttons of a cell as rectangles (hit tests; painting uses the integers)."""
        boxes = self._button_boxes(rect.x(), rect.y(), rect.width(), rect.height(), actions,
                                   option)
        return [(action, QRect(x, y, width, BUTTON)) for action, x, y, width in boxes]

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        """Integer geometry and kept colours and fonts, and the option (PySide's own copy
        for this call) filled in place: no further Qt value made per cell (see
        ``paint_cache``)."""
        found = source_item(index)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        link = paint_cache.palette_color(
            option.palette,
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Link)
        self.initStyleOption(option, index)
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, option, painter, widget)
        if found is None:
            return
        actions = found[0].actions(found[1])
        item_id = found[1].id
        cell = option.rect
        mode = QIcon.Mode.Selected if selected else QIcon.Mode.Normal
        boxes = self._button_boxes(cell.x(), cell.y(), cell.width(), cell.height(), actions,
                                   option)
        # The view marks the cell under the mouse and repaints its row when the mouse moves
        # to another cell or leaves the table, which this delegate is not told about.
        hovered = self._hover if option.state & QStyle.StateFlag.State_MouseOver else None
        for action, x, y, width in boxes:
            if (item_id, action) in (hovered, self._pressed):
                self._paint_panel(painter, style, widget, QRect(x, y, width, BUTTON),
                                  pressed=(item_id, action) == self._pressed)
            if action in TEXT_ACTIONS:
                painter.save()
                painter.setPen(link)
                painter.setFont(paint_cache.underlined(option.font))
                painter.drawText(x, y, width, BUTTON, int(Qt.AlignmentFlag.AlignCenter),
                                 ACTION_LABELS[action])
                painter.restore()
            else:
                icons.paint_icon(painter, ICON_NAMES[action], x + 5, y + 5, width - 10,
                                 BUTTON - 10, mode)

    @staticmethod
    def _paint_panel(painter: QPainter, style: QStyle, widget: QWidget | None, rect: QRect,
                     *, pressed: bool) -> None:
        """The raised panel under the button the mouse is on (one cell at a time)."""
        panel = QStyleOption()
        if widget is not None:
            panel.initFrom(widget)
        panel.rect = rect
        panel.state = (QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Raised
                       | QStyle.StateFlag.State_MouseOver)
        if pressed:
            panel.state |= QStyle.StateFlag.State_Sunken
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelButtonTool, panel, painter, widget)

    def column_width(self, view: QAbstractItemView) -> int:
        """Wide enough for any row: at most three buttons, of which at most one is text."""
        option = QStyleOptionViewItem()
        option.initFrom(view)
        text = max(self._widths(tuple(TEXT_ACTIONS), option), default=BUTTON)
        return 2 * MARGIN + 2 * GAP + 2 * BUTTON + max(BUTTON, text)

    def sizeHint(self, option: QStyleOptionViewItem, index: ModelIndex) -> QSize:
        found = source_item(index)
        widths = self._widths(found[0].actions(found[1]) if found is not None else (), option)
        width = sum(widths) + GAP * max(0, len(widths) - 1) + 2 * MARGIN
        return QSize(max(width, 3 * (BUTTON + GAP) + 2 * MARGIN), BUTTON + 6)

    def _hit(self, pos: QPoint, option: QStyleOptionViewItem,
             index: ModelIndex) -> RowAction | None:
        for action, rect in self.button_rects(option.rect, index.data(ActionsRole) or (), option):
            if rect.contains(pos):
                return action
        return None

    def editorEvent(self, event: QEvent, model: object, option: QStyleOptionViewItem,
                    index: ModelIndex) -> bool:
        kind = event.type()
        if kind not in (QEvent.Type.MouseMove, QEvent.Type.MouseButtonPress,
                        QEvent.Type.MouseButtonRelease, QEvent.Type.MouseButtonDblClick):
            return False
        assert isinstance(event, QMouseEvent)
        action = self._hit(event.position().toPoint(), option, index)
        item_id = index.data(ItemIdRole)
        key = (item_id, action) if action is not None else None
        if kind == QEvent.Type.MouseMove:
            if key != self._hover:
                self._hover = key
                self._view.viewport().update()
            return False
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        if kind in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick):
            self._pressed = key
            self._view.viewport().update(option.rect)
            return key is not None
        pressed, self._pressed = self._pressed, None
        self._view.viewport().update(option.rect)
        if key is not None and key == pressed:
            self.action_triggered.emit(int(item_id), str(action))
            return True
        return False

    def helpEvent(self, event: QHelpEvent, view: QAbstractItemView,
                  option: QStyleOptionViewItem, index: ModelIndex) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            action = self._hit(event.pos(), option, index)
            if action is not None:
                QToolTip.showText(event.globalPos(), ACTION_LABELS[action], view)
                return True
        return super().helpEvent(event, view, option, index)

    def clear_hover(self) -> None:
        self._hover = None
