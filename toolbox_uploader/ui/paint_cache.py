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

from PySide6.QtGui import QBrush, QColor, QFont, QPalette

#: Enough for the palettes a view uses at once (normal, selected, tinted rows).
_MAX_ENTRIES = 64

_colors: dict[tuple[int, QPalette.ColorGroup, QPalette.ColorRole], QColor] = {}
_brushes: dict[int, QBrush] = {}
_fonts: dict[str, QFont] = {}


def palette_color(palette: QPalette, role: QPalette.ColorRole,
                  group: QPalette.ColorGroup = QPalette.ColorGroup.Normal) -> QColor:
    """``palette.color(group, role)``, made once per palette (``cacheKey`` changes with it)."""
    key = (palette.cacheKey(), group, role)
    color = _colors.get(key)
    if color is None:
        if len(_colors) >= _MAX_ENTRIES:
            _colors.clear()
        color = _colors[key] = palette.color(group, role)
    return color


def brush(color: QColor) -> QBrush:
    """A solid brush of ``color``, made once per colour."""
    key = color.rgba()
    found = _brushes.get(key)
    if found is None:
        if len(_brushes) >= _MAX_ENTRIES:
            _brushes.clear()
        found = _brushes[key] = QBrush(color)
    return found


def underlined(font: QFont) -> QFont:
    """``font`` with an underline (link-like text buttons), made once per font."""
    key = font.key()
    found = _fonts.get(key)
    if found is None:
        if len(_fonts) >= _MAX_ENTRIES:
            _fonts.clear()
        found = QFont(font)
        found.setUnderline(True)
        _fonts[key] = found
    return found


def forget() -> None:
    """Drop everything (the system palette or font changed)."""
    _colors.clear()
    _brushes.clear()
    _fonts.clear()
