"""The Qt binding itself: a release that mishandles references would abort the app later.

PySide6 6.12.0 returns ``None`` from void methods (``QPainter.fillRect``, ``save``,
``QPalette.setBrush``, ...) without taking a reference to it. On Python 3.11, where ``None``
is reference-counted, every repaint then takes references away until the interpreter
aborts with "deallocating None" — after minutes or hours of a busy queue, not in a short
test. These tests make the calls our delegates make many times and check that ``None`` keeps
its references. (From Python 3.12 ``None`` is immortal and its count never moves.)
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPalette

CALLS = 300  # few enough that a broken binding fails the assert, not the interpreter


def _none_refs_lost(call: Callable[[], object]) -> int:
    before = sys.getrefcount(None)
    for _ in range(CALLS):
        call()
    return before - sys.getrefcount(None)


@pytest.fixture()
def painter(qapp: object) -> QPainter:
    image = QImage(64, 64, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    yield painter
    painter.end()


def test_painter_void_calls_keep_none_alive(painter: QPainter) -> None:
    rect = QRect(0, 0, 10, 10)
    brush = QBrush(QColor(10, 20, 30))

    def paint_once() -> None:
        painter.save()
        painter.setBrush(brush)
        painter.fillRect(rect, brush)
        painter.drawRect(rect)
        painter.restore()

    assert _none_refs_lost(paint_once) < CALLS // 10


def test_palette_set_brush_keeps_none_alive(qapp: object) -> None:
    palette = QPalette()
    brush = QBrush(QColor(10, 20, 30))
    lost = _none_refs_lost(lambda: palette.setBrush(QPalette.ColorRole.Text, brush))
    assert lost < CALLS // 10
