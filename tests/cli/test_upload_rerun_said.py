"""The same ``upload`` run again says its files are already on the server (a teacher who
reruns a script must not wonder whether everything went out twice), on a terminal, in a
log and in the JSON summary, and sends nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.engine.engine_support import server_files, text_file
from toolbox_uploader.server.embedded import ServerHandle


def _upload(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "toolbox_uploader", "upload", *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_a_rerun_says_each_file_is_already_on_the_server(live_server: ServerHandle,
                                                         tmp_path: Path, app_home: Path) -> None:
    folder = tmp_path / "Week 6"
    plan = text_file(folder / "plan.txt", 3000, seed=1)
    text_file(folder / "quiz.txt", 2000, seed=2)
    args = (str(folder), "--server", live_server.url, f"--token={live_server.token}")
    first = _upload(*args, home=app_home)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "(already on the server)" not in first.stdout

    again = _upload(*args, home=app_home)
    assert again.returncode == 0, again.stdout + again.stderr
    assert sorted(line for line in again.stdout.splitlines() if line.startswith("✓")) == [
        "✓ Week 6/plan.txt (already on the server)", "✓ Week 6/quiz.txt (already on the server)"]
    assert "2 of 2 files uploaded (2 were already on the server)" in again.stdout

    with plan.open("a") as out:  # one file edited: it goes out, the other is said as such
        out.write("one more question\n")
    edited = _upload(*args, home=app_home)
    assert edited.returncode == 0, edited.stdout + edited.stderr
    assert "✓ Week 6/plan.txt\n" in edited.stdout
    assert "✓ Week 6/quiz.txt (already on the server)" in edited.stdout
    assert "2 of 2 files uploaded (1 was already on the server)" in edited.stdout

    as_json = _upload(*args, "--json", home=app_home)
    summary = json.loads(as_json.stdout.splitlines()[-1])
    assert summary["event"] == "summary" and summary["exit_code"] == 0
    assert summary["uploaded"] == 2 and summary["already_uploaded"] == 2
    assert len(server_files(live_server.url, live_server.token)) == 3  # plan twice, quiz once
