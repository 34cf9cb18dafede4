"""How ``validate`` and ``upload`` read the paths a script gives them: an empty argument,
a link to a file or a folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.engine.engine_support import server_files, text_file
from toolbox_uploader.server.embedded import ServerHandle


def _run(*args: str, home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(home)}
    env.pop("TOOLBOX_UPLOADER_CLAMD", None)
    return subprocess.run([sys.executable, "-m", "toolbox_uploader", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_an_empty_path_is_a_usage_error_not_the_current_folder(
        live_server: ServerHandle, tmp_path: Path, app_home: Path) -> None:
    # ``upload "$FOLDER"`` with FOLDER unset: the folder the script happens to run in
    # must not be checked, let alone sent.
    cwd = tmp_path / "Private"
    text_file(cwd / "grades.txt", 3000)
    upload = _run("upload", "", "--server", live_server.url, f"--token={live_server.token}",
                  "--json", home=app_home, cwd=cwd)
    validate = _run("validate", "", "--json", home=app_home, cwd=cwd)
    for result in (upload, validate):
        assert result.returncode == 2, result.stdout + result.stderr
        assert "an empty path" in result.stderr and "Traceback" not in result.stderr
        assert result.stdout == ""
    assert server_files(live_server.url, live_server.token) == []
    # A name that is only a space is a real (odd) name, not an empty one.
    (cwd / " ").write_text("notes\n")
    spaced = _run("validate", " ", "--json", home=app_home, cwd=cwd)
    assert spaced.returncode == 0, spaced.stderr
    assert [json.loads(line)["relative_path"] for line in spaced.stdout.splitlines()] == [" "]


def test_a_link_is_uploaded_under_its_own_name(live_server: ServerHandle, tmp_path: Path,
                                               app_home: Path) -> None:
    # A teacher's tidy names that point into a messy store: the server gets the tidy names,
    # as ``validate`` shows them and as the app sends a dropped link.
    store = tmp_path / "store"
    text_file(store / "a81f3c.txt", 3000, seed=1)
    text_file(store / "folder-17" / "sheet.txt", 2000, seed=2)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "Lesson 1.txt").symlink_to(store / "a81f3c.txt")
    (mine / "Week 2").symlink_to(store / "folder-17", target_is_directory=True)
    names = ["Lesson 1.txt", "Week 2"]
    checked = _run("validate", *names, "--json", home=app_home, cwd=mine)
    assert checked.returncode == 0, checked.stderr
    expected = ["Lesson 1.txt", "Week 2/sheet.txt"]
    assert sorted(json.loads(x)["relative_path"] for x in checked.stdout.splitlines()) == expected
    sent = _run("upload", *names, "--server", live_server.url, f"--token={live_server.token}",
                home=app_home, cwd=mine)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    stored = server_files(live_server.url, live_server.token)
    assert sorted(f["relative_path"] for f in stored) == expected
    # Running it again finds the same items (resumes, sends nothing new).
    again = _run("upload", *names, "--server", live_server.url, f"--token={live_server.token}",
                 home=app_home, cwd=mine)
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(server_files(live_server.url, live_server.token)) == 2
