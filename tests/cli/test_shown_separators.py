"""Names printed for people never break a line: U+2028/U+2029 (line and paragraph
separators) are escaped like the other control characters."""

from __future__ import annotations

from toolbox_uploader.commands.shown import shown
from toolbox_uploader.core.validation.names import has_control_characters


def test_line_and_paragraph_separators_are_escaped() -> None:
    assert shown("week\u2028three\u2029.txt") == "week\\u2028three\\u2029.txt"
    assert len(shown("a\u2028b").splitlines()) == 1


def test_every_character_the_name_rules_call_control_is_escaped() -> None:
    controls = [chr(c) for c in range(0x3000) if has_control_characters(chr(c))]
    assert "\u2028" in controls and "\u202e" in controls
    assert [c for c in controls if shown(c) == c] == []
