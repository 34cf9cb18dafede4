"""``upload DIR`` on a folder with no file to send (empty, or only system files) says why,
after the "0 of 0" line (JSON: the summary's ``message``); the exit code stays 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.engine.engine_support import text_file
from toolbox_uploader.server.embedded import ServerHandle


def _upload(folder: Path, server: ServerHandle, home: Path,
            *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "toolbox_uploader", "upload", str(folder),
                           "--server", server.url, f"--token={server.token}", *extra],
                          env=env, capture_output=True, text=True, timeout=60)


def test_an_empty_folder_says_it_is_empty(live_server: ServerHandle, tmp_path: Path,
                                          app_home: Path) -> None:
    (tmp_path / "Week 3").mkdir()
    result = _upload(tmp_path / "Week 3", live_server, app_home)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["0 of 0 files uploaded",
                                          "Nothing to add: “Week 3” is empty."]


def test_only_system_files_says_so_in_the_json_summary(live_server: ServerHandle,
                                                       tmp_path: Path, app_home: Path) -> None:
    folder = tmp_path / "Week 3"
    for name in (".DS_Store", "Thumbs.db"):
        text_file(folder / name, 64)
    result = _upload(folder, live_server, app_home, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["event"] == "summary" and summary["exit_code"] == 0
    assert summary["message"] == "Nothing to add: “Week 3” holds only hidden or system files."
