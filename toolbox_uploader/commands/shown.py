"""File names (and durations) as people read them on a terminal.

A name is data, not instructions: ``title\\x1b]0;HACKED\\x07.txt`` must not set the terminal's
title, ``a\\nb.txt`` must not look like two lines, and ``[draft] plan.txt`` must not be read
as rich markup. Human-readable output shows every name through ``shown`` (and hands it to
rich as ``Text``, never inside a markup string); JSON output keeps names exact, since JSON
escapes control characters itself.
"""

from __future__ import annotations

import re
from typing import Any

from toolbox_uploader.core.validation.names import printable_name

#: C0/C1 controls, the line and paragraph separators (U+2028/9 end a line in a terminal
#: or a log viewer as a newline does) and the bidi overrides that make a name read
#: backwards on screen: every character ``names.has_control_characters`` counts.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def shown(text: str) -> str:
    """``text`` safe to print: control characters as ``\\x1b``/``\\n``, bytes that are not
    UTF-8 as ``\\xNN``; everything else exactly as it is."""
    return _CONTROL.sub(_escape, printable_name(text))


def duration(seconds: float) -> str:
    """``300`` as ``5 min``, ``90`` as ``90 s``: how long the command waited."""
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"


def speaks_utf8(stream: Any) -> bool:
    """Whether ``stream`` encodes text as UTF-8 (not ``PYTHONIOENCODING=ascii`` or a
    Latin-1 locale), so that any name can be written to it as it is."""
    import codecs

    try:
        return codecs.lookup(getattr(stream, "encoding", None) or "ascii").name == "utf-8"
    except LookupError:
        return False
