"""A label for one line of status text that may not fit (a server folder, a message)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QWidget


class ElidedLabel(QLabel):
    """A one-line label that shortens its text with an ellipsis (by default in the middle:
    "/home/…/server") when it is too narrow, instead of cutting it off; ``text()`` stays
    whole (and is the tooltip)."""

    def __init__(self, parent: QWidget | None = None, min_chars: int = 4,
                 mode: Qt.TextElideMode = Qt.TextElideMode.ElideMiddle) -> None:
        super().__init__(parent)
        self._min_chars = min_chars
        self._mode = mode

    def minimumSizeHint(self) -> QSize:
        return QSize(self.fontMetrics().averageCharWidth() * self._min_chars,
                     super().minimumSizeHint().height())

    def shown_text(self) -> str:
        return self.fontMetrics().elidedText(self.text(), self._mode,
                                             self.contentsRect().width())

    def paintEvent(self, event: QPaintEvent) -> None:
        shown = self.shown_text()
        if shown == self.text():
            super().paintEvent(event)  # whole: QLabel paints it (and its selection)
            return
        painter = QPainter(self)
        self.style().drawItemText(painter, self.contentsRect(), int(self.alignment()),
                                  self.palette(), self.isEnabled(), shown,
                                  self.foregroundRole())
