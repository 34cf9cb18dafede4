"""File names in human-readable output: shown exactly, never read as rich markup, and with
terminal control characters escaped (JSON output keeps them exact)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from toolbox_uploader.commands.shown import shown
from toolbox_uploader.server.embedded import ServerHandle

MARKUP = ("[draft] plan.txt", "folder[/]end.txt", "[bold]x[/bold].txt")
CONTROL = ("title\x1b]0;HACKED\x07.txt", "two\nlines.txt")


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(home), "COLUMNS": "300"}
    return subprocess.run([sys.executable, "-m", "toolbox_uploader", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "Odd"
    folder.mkdir()
    for n, name in enumerate(MARKUP + CONTROL):
        (folder / name).parent.mkdir(exist_ok=True)  # "folder[/]end.txt" is in "folder["
        (folder / name).write_text(f"worksheet {n}\n")
    return folder


def test_shown_escapes_controls_and_keeps_the_rest() -> None:
    assert shown("[draft] plan.txt") == "[draft] plan.txt"
    assert shown("a\x1b[31mb\n\t\u202e.txt") == "a\\x1b[31mb\\n\\t\\u202e.txt"
    assert shown(os.fsdecode(b"caf\xe9.txt")) == "caf\\xe9.txt"


def test_upload_and_queue_list_show_names_exactly(live_server: ServerHandle, tmp_path: Path,
                                                 app_home: Path) -> None:
    folder = _folder(tmp_path)
    result = _cli("upload", str(folder), "--server", live_server.url,
                  f"--token={live_server.token}", home=app_home)
    assert result.returncode == 1, result.stderr  # the control-character names are refused
    assert "Traceback" not in result.stderr
    for name in MARKUP:
        assert f"✓ Odd/{name}" in result.stdout
    for name in CONTROL:
        assert f"Odd/{shown(name)}" in result.stdout
    assert "\x1b" not in result.stdout and "two\nlines" not in result.stdout
    assert "REJECTED  Odd/two\\nlines.txt" in result.stdout

    listing = _cli("queue", "list", home=app_home)
    assert listing.returncode == 0, listing.stderr
    for name in MARKUP + CONTROL:
        assert f"Odd/{shown(name)}" in listing.stdout
    assert "\x1b" not in listing.stdout and "two\nlines" not in listing.stdout
    as_json = _cli("queue", "list", "--json", home=app_home)
    paths = {json.loads(line)["relative_path"] for line in as_json.stdout.splitlines()}
    assert paths == {f"Odd/{name}" for name in MARKUP + CONTROL}  # JSON stays exact


def test_validate_table_shows_names_exactly(tmp_path: Path, app_home: Path) -> None:
    folder = _folder(tmp_path)
    result = _cli("validate", str(folder), home=app_home)
    assert result.returncode == 1, result.stderr
    for name in MARKUP + CONTROL:
        assert f"Odd/{shown(name)}" in result.stdout
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
