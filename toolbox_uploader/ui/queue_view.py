"""The queue table: its keyboard, and column widths that fit the window.

Qt's header can stretch one column but not shrink the others in proportion when the window
gets narrow (only ``Stretch`` for all, which would drop the teacher's own widths), hence
``ColumnFitter``.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QEnterEvent, QHideEvent, QKeyEvent, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QStyle, QTableView

from toolbox_uploader.ui.queue_model import Column

#: (preferred, minimum) widths of the columns that give way when the window is narrow. Name
#: takes what is left (at least ``NAME_MIN``); the actions column keeps its width.
COLUMN_WIDTHS: dict[Column, tuple[int, int]] = {
    Column.CATEGORY: (150, 92), Column.SIZE: (124, 76), Column.STATUS: (190, 164),
    Column.PROGRESS: (120, 60), Column.SPEED: (84, 64), Column.ETA: (96, 90),
}
NAME_MIN = 140

ModelIndex = QModelIndex | QPersistentModelIndex


class QueueView(QTableView):
    """The table, plus its keyboard: Delete removes, Space pauses/resumes, Enter opens details.

    Signals: ``remove_pressed()``, ``toggle_pressed()``, ``details_pressed()``, ``resized()``
    (the viewport changed size, also when a scroll bar came or went),
    ``pointer_over_changed(bool)`` (the mouse came over the table, its header included, or
    left it; also "left" when the table is hidden, which may send no leave event).
    """

    remove_pressed = Signal()
    toggle_pressed = Signal()
    details_pressed = Signal()
    resized = Signal()
    pointer_over_changed = Signal(bool)

    def enterEvent(self, event: QEnterEvent) -> None:
        # The view's own enter and leave, not the viewport's: those would need a filter
        # or ``viewportEvent``, Python for every paint event.
        super().enterEvent(event)
        self.pointer_over_changed.emit(True)

    def leaveEvent(self, event: QEvent) -> None:
        super().leaveEvent(event)
        self.pointer_over_changed.emit(False)

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)  # hidden to the tray: no leave event may come
        self.pointer_over_changed.emit(False)

    def resizeEvent(self, event: QResizeEvent) -> None:
        # The scroll area hands its viewport's resize events to this handler too. A signal
        # from here, not an event filter: a filter would run Python for every paint event.
        super().resizeEvent(event)
        self.resized.emit()

    def paintEvent(self, event: QPaintEvent) -> None:
        """Qt's own painting, entered from Python.

        Measured with ``bench/gui_responsiveness.py`` while 1,000 files upload: with this
        override the longest GUI stall is about half of what it is without it (25-42 ms
        against 53-65 ms over three runs each), although it only calls the base class. The
        repaint is then entered from Python and its delegate callbacks run nested in that
        call; why exactly that makes the GIL hand-overs to the busy engine and server threads
        cheaper was not established. Keep it unless the bench says otherwise.
        """
        super().paintEvent(event)

    def dataChanged(self, topLeft: ModelIndex, bottomRight: ModelIndex,
                    roles: Sequence[int] = ()) -> None:
        """Only the rows in sight are passed on.

        Qt 6.11 repaints the whole viewport for a changed range of rows that lies outside it
        (a single cell it leaves alone). While files far down the queue upload, that was a
        full repaint several times a second, each 15 ms of delegate work, or 40-50 ms with
        the engine thread competing for the GIL: the longest GUI stall of
        ``bench/gui_responsiveness.py``. Rows out of sight are painted when scrolled to.
        """
        if topLeft != bottomRight and topLeft.isValid() and bottomRight.isValid():
            model = topLeft.model()
            first = self.rowAt(0)
            last = self.rowAt(self.viewport().height() - 1)
            if first < 0:
                return  # no rows in sight
            if last < 0:
                last = model.rowCount(topLeft.parent()) - 1
            top, bottom = max(topLeft.row(), first), min(bottomRight.row(), last)
            if top > bottom:
                return
            if (top, bottom) != (topLeft.row(), bottomRight.row()):
                topLeft = model.index(top, topLeft.column(), topLeft.parent())
                bottomRight = model.index(bottom, bottomRight.column(), bottomRight.parent())
        super().dataChanged(topLeft, bottomRight, list(roles))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if self.state() != QAbstractItemView.State.EditingState:
            if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
                self.remove_pressed.emit()
                return
            if key == Qt.Key.Key_Space:
                self.toggle_pressed.emit()
                return
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.details_pressed.emit()
                return
        super().keyPressEvent(event)


def fitted_widths(available: int, preferred: Sequence[int],
                  minimum: Sequence[int]) -> list[int]:
    """Column widths that fit in ``available`` pixels: the preferred ones when they fit,
    otherwise each column gives up the same share of its room above its minimum."""
    floors = [min(p, m) for p, m in zip(preferred, minimum, strict=True)]
    if sum(preferred) <= available:
        return list(preferred)
    slack = sum(preferred) - sum(floors)
    share = max(0, available - sum(floors)) / slack
    return [f + int((p - f) * share) for p, f in zip(preferred, floors, strict=True)]


def table_minimum_width(view: QTableView, actions_width: int) -> int:
    """The narrowest table in which every column keeps its minimum and Name ``NAME_MIN``,
    with room for a vertical scroll bar: narrower, Name alone would give way ("IMG_2…1.jpg")."""
    scroll_bar = view.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, view)
    columns = sum(minimum for _, minimum in COLUMN_WIDTHS.values())
    return NAME_MIN + columns + actions_width + 2 * view.frameWidth() + scroll_bar


class ColumnFitter(QObject):
    """Keeps the queue table as wide as its viewport, so that no column (above all the row
    buttons) needs horizontal scrolling in a narrow window.

    Name stretches; when the window is too narrow for the other columns' preferred widths,
    they shrink towards readable minimums. A header edge the teacher drags sets that
    column's preferred width, so their layout comes back when the window grows again.
    """

    def __init__(self, view: QueueView, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._view = view
        self.preferred = {column: width for column, (width, _) in COLUMN_WIDTHS.items()}
        self._fitting = False
        view.horizontalHeader().sectionResized.connect(self._on_section_resized)
        view.resized.connect(self.fit)

    def _on_section_resized(self, column: int, _old: int, new: int) -> None:
        if not self._fitting and column in self.preferred:
            self.preferred[Column(column)] = new

    def fit(self) -> None:
        header = self._view.horizontalHeader()
        columns = list(self.preferred)
        available = (self._view.viewport().width() - header.sectionSize(Column.ACTIONS)
                     - NAME_MIN)
        widths = fitted_widths(available, [self.preferred[c] for c in columns],
                               [COLUMN_WIDTHS[c][1] for c in columns])
        self._fitting = True
        try:
            for column, width in zip(columns, widths, strict=True):
                if header.sectionSize(column) != width:
                    header.resizeSection(column, width)
        finally:
            self._fitting = False
