"""Sizes as a teacher reads them, the same everywhere: queue, refusals, server, CLI.

Decimal units (kB, MB, GB), as the file managers of most desktops show them, so that a
size in the queue, in a refusal ("at most 105 MB") and in the teacher's file browser
agree. The category limits are binary (100 MiB) in the spec; they read in the same units
as the file they are compared with, never as "100 MB" beside a file that the browser
calls "104 MB" and that the app accepts.
"""

from __future__ import annotations

_UNITS = ("bytes", "kB", "MB", "GB", "TB")


def human_size(size: float, digits: int | None = None) -> str:
    """``digits`` after the point; by default one below 100 of the unit and none above."""
    value = float(size)
    if abs(value) < 1000:
        return "1 byte" if value == 1 else f"{int(value)} bytes"
    for unit in _UNITS[1:]:
        value /= 1000
        places = digits if digits is not None else (1 if abs(value) < 100 else 0)
        shown = f"{value:.{places}f}"
        if abs(float(shown)) < 1000 or unit == _UNITS[-1]:  # never "1000 kB"
            return f"{shown} {unit}"
    raise AssertionError("unreachable")


def sizes_apart(first: float, second: float) -> tuple[str, str]:
    """Both sizes with enough digits that two different sizes never read the same.

    "The file is 1.1 GB; at most 1.1 GB" says nothing; "1.090 GB … 1.074 GB" does.
    """
    if first == second:
        return human_size(first), human_size(second)
    for digits in (None, 1, 2, 3):
        shown = human_size(first, digits), human_size(second, digits)
        if shown[0] != shown[1]:
            return shown
    return f"{first:,.0f} bytes", f"{second:,.0f} bytes"
