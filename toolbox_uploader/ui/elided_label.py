"""A label for one line of status text that may not fit (a server folder, a message)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QWidget


class ElidedLabel(QLabel):
    """A one-line label that shortens its text with an ellipsis (by default in the middle:
    "/home/…/server") when it is too narrow, instead of cutting it off; ``text()`` stays
    whole (and is the tooltip).

    ``set_text(text, kept_end)`` names an ending that is never shortened: a state such as
    "not signed in" after a server's address, which a middle ellipsis would cut first.
    """

    def __init__(self, parent: QWidget | None = None, min_chars: int = 4,
                 mode: Qt.TextElideMode = Qt.TextElideMode.ElideMiddle) -> None:
        super().__init__(parent)
        self._min_chars = min_chars
        self._mode = mode
        self._kept_end = ""

    def set_text(self, text: str, kept_end: str = "") -> None:
        """Show ``text``; only what comes before its ending ``kept_end`` may give way."""
        self._kept_end = kept_end if text.endswith(kept_end) else ""
        self.setText(text)
        self.updateGeometry()  # the minimum width counts the kept ending

    def _kept(self) -> str:
        """The ending kept whole, while the text is still the one it was set for."""
        return self._kept_end if self.text().endswith(self._kept_end) else ""

    def minimumSizeHint(self) -> QSize:
        kept = self.fontMetrics().horizontalAdvance(self._kept())
        return QSize(self.fontMetrics().averageCharWidth() * self._min_chars + kept,
                     super().minimumSizeHint().height())

    def shown_text(self) -> str:
        text, width = self.text(), self.contentsRect().width()
        metrics = self.fontMetrics()
        kept = self._kept()
        if not kept or metrics.horizontalAdvance(text) <= width:
            return metrics.elidedText(text, self._mode, width)
        head = text[:len(text) - len(kept)]
        room = max(0, width - metrics.horizontalAdvance(kept))
        return metrics.elidedText(head, self._mode, room) + kept

    def paintEvent(self, event: QPaintEvent) -> None:
        shown = self.shown_text()
        if shown == self.text():
            super().paintEvent(event)  # whole: QLabel paints it (and its selection)
            return
        painter = QPainter(self)
        self.style().drawItemText(painter, self.contentsRect(), int(self.alignment()),
                                  self.palette(), self.isEnabled(), shown,
                                  self.foregroundRole())
