"""``upload --json`` ends with a ``summary`` line even when no upload could start.

A script reads the last line for the outcome; an upload refused before it began (another
program owns the queue, the queue file is damaged) printed its reason on stderr only and
left standard output empty."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.cli.upload_in_progress import cli, env
from tests.engine.engine_support import free_port, text_file


def _upload_json(path: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli("upload", str(path), "--json", "--server", f"http://127.0.0.1:{free_port()}",
            "--token=abcdefghijklmnop", "--give-up-after", "5"),
        env=env(home), capture_output=True, text=True, timeout=60)


def _summary(stdout: str) -> dict[str, object]:
    lines = [json.loads(line) for line in stdout.splitlines()]  # every line is JSON
    assert lines, "no summary line"
    assert lines[-1]["event"] == "summary"
    return lines[-1]


def test_a_queue_owned_by_another_program_still_gives_a_json_summary(
        tmp_path: Path, app_home: Path) -> None:
    from toolbox_uploader.core.lock import StoreLock

    path = text_file(tmp_path / "x.txt", 3000)
    with StoreLock(app_home / "data" / "sessions.sqlite3"):
        result = _upload_json(path, app_home)
    assert result.returncode == 1, result.stderr
    summary = _summary(result.stdout)
    assert summary["exit_code"] == 1 and summary["uploaded"] == 0
    assert summary["interrupted"] is False and summary["gave_up"] is False
    assert "Another ToolBox Uploader" in str(summary["message"])
    assert "Another ToolBox Uploader" in result.stderr and "Traceback" not in result.stderr


def test_a_damaged_queue_file_still_gives_a_json_summary(tmp_path: Path,
                                                         app_home: Path) -> None:
    db = app_home / "data" / "sessions.sqlite3"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"not a database at all " * 500)
    path = text_file(tmp_path / "x.txt", 3000)
    result = _upload_json(path, app_home)
    assert result.returncode == 1, result.stderr
    summary = _summary(result.stdout)
    assert summary["exit_code"] == 1 and str(db) in str(summary["message"])
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1  # the one line saying where it is
    assert db.read_bytes().startswith(b"not a database")  # never repaired behind our back
