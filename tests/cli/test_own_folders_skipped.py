"""``upload ..`` / ``validate ..`` next to ``$TOOLBOX_UPLOADER_HOME``: the app's own folders
(the queue, its lock, the local server's files and secret token) are skipped and said so
once on stderr, never sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _cli(*args: str, home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(home), "COLUMNS": "300"}
    return subprocess.run([sys.executable, "-m", "toolbox_uploader", *args], env=env,
                          capture_output=True, text=True, timeout=60, cwd=cwd)


def _layout(tmp_path: Path) -> tuple[Path, Path]:
    top = tmp_path / "Top"
    lessons = top / "Lessons"
    lessons.mkdir(parents=True)
    (lessons / "plan.txt").write_text("week 1\n")
    return top / "apphome", lessons


def test_upload_dotdot_sends_none_of_the_app_files(tmp_path: Path) -> None:
    home, lessons = _layout(tmp_path)
    result = _cli("upload", "..", "--json", home=home, cwd=lessons)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    sent = {e["relative_path"] for e in events if e.get("event") == "item"}
    assert sent == {"Top/Lessons/plan.txt"}
    assert events[-1]["uploaded"] == 1
    assert (home / "data" / "server" / "default-token").exists()  # there, and not sent
    assert result.stderr.count("Skipped what belongs to ToolBox Uploader itself") == 1
    assert str(home / "data") in result.stderr


def test_validate_dotdot_skips_them_and_says_so_once(tmp_path: Path) -> None:
    home, lessons = _layout(tmp_path)
    (home / "data" / "server").mkdir(parents=True)
    (home / "data" / "server" / "default-token").write_text("secret")
    (lessons / "token-link").symlink_to(home / "data" / "server" / "default-token")
    result = _cli("validate", "--json", "..", home=home, cwd=lessons)
    assert result.returncode == 0, result.stderr
    paths = [json.loads(line)["relative_path"] for line in result.stdout.splitlines()]
    assert paths == ["Top/Lessons/plan.txt"]
    assert result.stderr.count("Skipped what belongs to ToolBox Uploader itself") == 1
    assert "token-link" in result.stderr


def test_the_token_itself_is_refused(tmp_path: Path) -> None:
    home, lessons = _layout(tmp_path)
    (home / "data" / "server").mkdir(parents=True)
    token = home / "data" / "server" / "default-token"
    token.write_text("secret")
    result = _cli("validate", str(token), home=home, cwd=lessons)
    assert result.returncode == 1, result.stderr
    assert "app_folder" in result.stdout and "Traceback" not in result.stderr
