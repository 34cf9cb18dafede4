"""The colours, brushes and fonts the delegates keep between repaints."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette

from toolbox_uploader.ui import paint_cache


def test_palette_colours_are_kept_per_palette(qapp: object) -> None:
    paint_cache.forget()
    palette = QPalette(QColor("#336699"))
    text = paint_cache.palette_color(palette, QPalette.ColorRole.Text)
    assert text == palette.color(QPalette.ColorGroup.Normal, QPalette.ColorRole.Text)
    assert paint_cache.palette_color(palette, QPalette.ColorRole.Text) is text

    palette.setColor(QPalette.ColorRole.Text, QColor("#ff0000"))  # a new palette key
    changed = paint_cache.palette_color(palette, QPalette.ColorRole.Text)
    assert changed is not text and changed == QColor("#ff0000")
    disabled = paint_cache.palette_color(palette, QPalette.ColorRole.Text,
                                         QPalette.ColorGroup.Disabled)
    assert disabled == palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)


def test_brushes_and_fonts_are_kept_and_bounded(qapp: object) -> None:
    paint_cache.forget()
    red = paint_cache.brush(QColor(200, 0, 0))
    assert paint_cache.brush(QColor(200, 0, 0)) is red and red.color() == QColor(200, 0, 0)
    for n in range(200):  # far more colours than a view uses: the store starts over
        paint_cache.brush(QColor(n, n, n))
    assert len(paint_cache._brushes) <= paint_cache._MAX_ENTRIES

    font = QFont("DejaVu Sans", 10)
    underlined = paint_cache.underlined(font)
    assert underlined.underline() and not font.underline()
    assert paint_cache.underlined(QFont("DejaVu Sans", 10)) is underlined
    paint_cache.forget()
    assert paint_cache.underlined(font) is not underlined
