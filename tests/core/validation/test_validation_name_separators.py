"""U+2028/U+2029 (line and paragraph separators) end a line in the queue table, logs and
JSON readers as a newline does, so a name holding one is refused like a control character."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolbox_uploader.core.validation import validate_file
from toolbox_uploader.core.validation.names import storage_name


@pytest.mark.parametrize("separator", ["\u2028", "\u2029"])
def test_a_line_or_paragraph_separator_in_a_name_is_refused(
        separator: str, tmp_path: Path) -> None:
    name = f"Week 3{separator}Fractions.txt"
    path = tmp_path / "upload.part"
    path.write_text("Fractions worksheet\n")
    report = validate_file(path, "educational_content", filename=name)
    assert [r.code for r in report.reasons] == ["control_characters"]
    assert separator not in storage_name(name)
