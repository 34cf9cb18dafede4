"""A Ctrl+C (or SIGTERM) while ``--json`` output is being written never leaves a last line
without its newline: ``print`` wrote the newline as a second write, and a stop landing
between the two cut it off (``while read`` loops and many JSON-lines readers drop such a
line). Each line is now written in one piece."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.engine.engine_support import text_file
from toolbox_uploader.cli import EXIT_INTERRUPTED, main


class _StoppedAtWrite(io.StringIO):
    """Standard output on which the ``stop_at``-th write is interrupted, as a Ctrl+C
    arriving at that moment would be."""

    def __init__(self, stop_at: int) -> None:
        super().__init__()
        self.writes = 0
        self.stop_at = stop_at

    def write(self, text: str) -> int:
        self.writes += 1
        if self.writes == self.stop_at:
            raise KeyboardInterrupt
        return super().write(text)


def test_validate_json_stopped_while_printing_ends_with_whole_lines(
        tmp_path: Path, app_home: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    for n in range(4):
        text_file(tmp_path / "Week 1" / f"sheet{n}.txt", 1000 + n, seed=n)
    out = _StoppedAtWrite(2)  # the first line's newline, as print wrote it
    monkeypatch.setattr("sys.stdout", out)
    code = main(["validate", "--json", "--jobs", "1", str(tmp_path / "Week 1")])
    assert code == EXIT_INTERRUPTED
    assert capsys.readouterr().err.strip() == "interrupted"
    text = out.getvalue()
    assert text and text.endswith("\n"), repr(text)
    assert all(json.loads(line)["verdict"] == "accept" for line in text.splitlines())


def test_queue_list_json_stopped_while_printing_ends_with_whole_lines(
        tmp_path: Path, app_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from toolbox_uploader import paths
    from toolbox_uploader.core.session_store import SessionStore

    store = SessionStore(paths.session_db_path())
    try:
        for n in range(3):
            source = text_file(tmp_path / f"plan{n}.txt", 500 + n, seed=n)
            store.add(server_key="local", source_path=str(source),
                      relative_path=source.name, display_name=source.name,
                      category="educational_content", size=source.stat().st_size, mtime=0.0)
    finally:
        store.close()
    out = _StoppedAtWrite(2)
    monkeypatch.setattr("sys.stdout", out)
    assert main(["queue", "list", "--json"]) == EXIT_INTERRUPTED
    text = out.getvalue()
    assert text.endswith("\n") and [json.loads(line)["id"] for line in text.splitlines()] == [1]
