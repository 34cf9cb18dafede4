"""The base of every queue cell delegate: the style option is filled from the row's snapshot.

Why not ``QStyledItemDelegate`` as it is: its ``initStyleOption`` asks the model for seven
roles per cell, and with a Python model each is a call from C++ back into Python that must
take the GIL again. While uploads run, the engine thread and the embedded server thread
(same process) keep the GIL busy, and each of those takes can wait up to the interpreter's
switch interval (5 ms): a repaint of the visible rows, about 1,300 such calls, held up the GUI
thread for 150-250 ms (issue 5, ``bench/gui_responsiveness.py``). Overriding
``initStyleOption`` in Python makes it one callback per cell; the snapshot is read directly.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractProxyModel, QModelIndex, QPersistentModelIndex
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from toolbox_uploader.core.events import ItemSnapshot
from toolbox_uploader.ui import formatting as fmt
from toolbox_uploader.ui.filter_model import QueueFilterModel
from toolbox_uploader.ui.queue_model import Column, QueueModel

ModelIndex = QModelIndex | QPersistentModelIndex


def source_item(index: ModelIndex) -> tuple[QueueModel, ItemSnapshot, Column] | None:
    """The queue model, snapshot and column behind a (proxy) index; None if there is none.

    Reads the snapshot in Python instead of through ``index.data()``, which would go from
    Python into Qt and back into Python (two GIL hand-overs per value).
    """
    if not index.isValid():
        return None
    model = index.model()
    row, column = index.row(), index.column()
    while isinstance(model, QAbstractProxyModel):
        if isinstance(model, QueueFilterModel) and model.is_identity:
            model = model.sourceModel()  # same row numbers: no mapping (C++ calling back)
            continue
        index = model.mapToSource(index)
        if not index.isValid():
            return None
        model = model.sourceModel()
        row, column = index.row(), index.column()
    if not isinstance(model, QueueModel) or not 0 <= row < model.rowCount():
        return None
    return model, model.item(row), Column(column)


class CellDelegate(QStyledItemDelegate):
    """``QStyledItemDelegate`` whose style option comes from ``QueueModel.fill_option``."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        found = source_item(index)
        if found is None:
            super().initStyleOption(option, index)
            return
        model, item, column = found
        if isinstance(index, QModelIndex):
            option.index = index
        model.fill_option(option, item, column)
        if column == Column.ETA:
            fit_time_left(option)


def fit_time_left(option: QStyleOptionViewItem) -> None:
    """A time too wide for its cell said in fewer letters ("under 10 s", "1 h 20 min")
    instead of cut by Qt ("a few secon…"), which loses the unit or the number.

    Only the few texts that have a shorter form are measured (a ``QFontMetrics`` is a
    temporary Qt value, see ``paint_cache``); the cell's width is unknown (0) when Qt only
    asks for a size hint, and then the text stays as it is.
    """
    text: str = option.text
    shorter = fmt.shorter_time_left(text)
    if shorter is None:
        return
    widget = option.widget
    style = widget.style() if widget is not None else QApplication.style()
    margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, widget) + 1
    room = option.rect.width() - 2 * margin
    if room <= 0:
        return
    metrics = option.fontMetrics
    while shorter is not None and metrics.horizontalAdvance(text) > room:
        text, shorter = shorter, fmt.shorter_time_left(shorter)
    option.text = text
