"""``user list --json`` is JSON lines, one account per line, as every other ``--json``
output (it was one indented array that ``while read`` loops and ``jq -c`` pipelines split
into pieces)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolbox_uploader.cli import main


def test_one_account_per_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "server-data")
    assert main(["user", "add", "Frau Müller", "--data-dir", data]) == 0
    assert main(["user", "add", "Mr Smith", "--quota", "1G", "--data-dir", data]) == 0
    capsys.readouterr()
    assert main(["user", "list", "--json", "--data-dir", data]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [json.loads(line) for line in lines]
    assert [row["name"] for row in rows] == ["Frau Müller", "Mr Smith"]
    assert rows[1]["quota"] == 1 << 30 and all(isinstance(row, dict) for row in rows)
