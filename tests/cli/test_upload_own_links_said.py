"""``upload`` says which of the app's own folders it passed over also for links into them
deep inside PATHS (``validate`` did; ``upload`` only named app folders met by their real
location), still in one line on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _cli(*args: str, home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(home), "COLUMNS": "300"}
    env.pop("TOOLBOX_UPLOADER_CLAMD", None)
    return subprocess.run([sys.executable, "-m", "toolbox_uploader", *args], env=env,
                          capture_output=True, text=True, timeout=60, cwd=cwd)


def test_links_deep_inside_are_said_with_the_folders(tmp_path: Path) -> None:
    top = tmp_path / "Top"
    home = top / "apphome"
    token = home / "data" / "server" / "default-token"
    token.parent.mkdir(parents=True)
    token.write_text("secret")
    deep = top / "Lessons" / "week 1"
    deep.mkdir(parents=True)
    (deep / "plan.txt").write_text("week 1\n")
    (deep / "token-link").symlink_to(token)
    (deep / "queue-link").symlink_to(home / "data")

    result = _cli("upload", "--json", "Lessons", home=home, cwd=top)
    assert result.returncode == 0, result.stdout + result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert {e["relative_path"] for e in events if e.get("event") == "item"} == {
        "Lessons/week 1/plan.txt"}
    assert result.stderr.count("Skipped what belongs to ToolBox Uploader itself") == 1
    assert "week 1/token-link" in result.stderr and "week 1/queue-link" in result.stderr

    # ``upload ..``-style: the real folder and the links, in the same one line.
    result = _cli("upload", ".", home=home, cwd=top)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.count("Skipped what belongs to ToolBox Uploader itself") == 1
    line = result.stderr.splitlines()[0]
    assert str(home / "data") in line and "token-link" in line and "queue-link" in line
