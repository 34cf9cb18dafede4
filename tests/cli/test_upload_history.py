"""A file edited after it was sent gets a new item; the old one stays in the store as
history. A rerun reports each file once, as its newest version, on a terminal or in JSON."""

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
                          capture_output=True, text=True, timeout=120, check=False)


def test_each_file_is_reported_once_after_edits(live_server: ServerHandle, tmp_path: Path,
                                                app_home: Path) -> None:
    folder = tmp_path / "Week 5"
    plan = text_file(folder / "plan.txt", 3000, seed=1)
    text_file(folder / "quiz.txt", 2000, seed=2)
    args = (str(folder), "--server", live_server.url, f"--token={live_server.token}")
    assert _upload(*args, home=app_home).returncode == 0
    for edit in range(2):  # two edits: two earlier versions of plan.txt in the store
        with plan.open("a") as out:
            out.write(f"edit {edit}\n")
        result = _upload(*args, home=app_home)
        assert result.returncode == 0, result.stdout + result.stderr
        ticks = sorted(line for line in result.stdout.splitlines() if line.startswith("✓"))
        assert ticks == ["✓ Week 5/plan.txt",
                         "✓ Week 5/quiz.txt (already on the server)"], result.stdout
        assert "2 of 2 files uploaded" in result.stdout
    unchanged = _upload(*args, home=app_home)
    ticks = sorted(line for line in unchanged.stdout.splitlines() if line.startswith("✓"))
    assert ticks == ["✓ Week 5/plan.txt (already on the server)",
                     "✓ Week 5/quiz.txt (already on the server)"], unchanged.stdout
    events = [json.loads(line) for line in _upload(*args, "--json", home=app_home)
              .stdout.splitlines()]
    ids = {(e["relative_path"], e["id"]) for e in events if e["event"] == "item"}
    assert sorted(path for path, _ in ids) == ["Week 5/plan.txt", "Week 5/quiz.txt"], ids
    newest = [e for e in events if e["event"] == "item" and e["relative_path"].endswith("plan.txt")]
    assert newest[-1]["size"] == plan.stat().st_size
    assert len(server_files(live_server.url, live_server.token)) == 4  # 3 versions + quiz
