"""Qt values the queue's delegates reuse from one repaint to the next.

Why: PySide6 destroys a Python-owned Qt value (a ``QColor``, ``QRect``, ``QBrush``, a copied
``QStyleOptionViewItem``...) with the GIL released. While uploads run, the engine and the
local server threads take the GIL at once, so the GUI thread waits to get it back: measured
here at about 0.5 ms for each such temporary, against 1 µs on an idle interpreter. A repaint
that made a few hundred of them stalled the window for 30-40 ms (issue 5). The delegates
therefore paint with integer geometry and with the colours, brushes and fonts kept here,
which live as long as the palette or font they came from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from PySide6.QtGui import QBrush, QColor, QFont, QPalette

K = TypeVar("K")
V = TypeVar("V")

#: Enough for the palettes a view uses at once (normal, selected, tinted rows).
_MAX_ENTRIES = 64

_colors: dict[tuple[int, QPalette.ColorGroup, QPalette.ColorRole], QColor] = {}
_brushes: dict[int, QBrush] = {}
_fonts: dict[str, QFont] = {}


def _kept(store: dict[K, V], key: K, make: Callable[[], V]) -> V:
    """``store[key]``, made by ``make()`` the first time; the store is bounded."""
    found = store.get(key)
    if found is None:
        if len(store) >= _MAX_ENTRIES:
            store.clear()
        found = store[key] = make()
    return found


def palette_color(palette: QPalette, role: QPalette.ColorRole,
                  group: QPalette.ColorGroup = QPalette.ColorGroup.Normal) -> QColor:
    """``palette.color(group, role)``, made once per palette (``cacheKey`` changes with it)."""
    return _kept(_colors, (palette.cacheKey(), group, role), lambda: palette.color(group, role))


def brush(color: QColor) -> QBrush:
    """A solid brush of ``color``, made once per colour."""
    return _kept(_brushes, color.rgba(), lambda: QBrush(color))


def underlined(font: QFont) -> QFont:
    """``font`` with an underline (link-like text buttons), made once per font."""

    def make() -> QFont:
        made = QFont(font)
        made.setUnderline(True)
        return made

    return _kept(_fonts, font.key(), make)


def forget() -> None:
    """Drop everything (the system palette or font changed)."""
    _colors.clear()
    _brushes.clear()
    _fonts.clear()
