"""``upload`` without ``--json`` into a pipe or a log (cron): a line per change that
matters, never one per file per retry, and never a line cut at 80 columns."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.engine.engine_support import free_port, text_file
from toolbox_uploader.server.embedded import ServerHandle


def _upload(*args: str, home: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Standard output and error are pipes, not a terminal; ``COLUMNS=80`` is rich's width
    for those unless told otherwise."""
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(home), "COLUMNS": "80"}
    return subprocess.run([sys.executable, "-m", "toolbox_uploader", "upload", *args],
                          env=env, capture_output=True, text=True, timeout=timeout)


def test_a_server_that_is_down_is_said_once_not_per_file_per_retry(tmp_path: Path,
                                                                    app_home: Path) -> None:
    # 2,000 files on a server that was down wrote 11,700 "Waiting for network" lines in 30 s.
    folder = tmp_path / "Term"
    for n in range(300):
        text_file(folder / f"sheet{n:03d}.txt", 300 + n, seed=n)
    result = _upload(str(folder), "--server", f"http://127.0.0.1:{free_port()}",
                     "--token=abcdefghijklmnop", "--give-up-after", "5", home=app_home)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    lines = result.stdout.splitlines()
    end = lines.index("0 of 300 files uploaded")
    assert lines[0] == "The server cannot be reached."
    assert len(lines[1:end]) == 1, lines[:end]
    assert re.fullmatch(r"Waiting for network: \d+ files?, next try in \d+ s\.", lines[1])
    # The summary lists every file once, without a countdown no one will wait for.
    assert len(lines[end + 1:]) == 300
    assert not [line for line in lines[end + 1:] if "next try in" in line]
    assert all(line.endswith("Not finished; resumable.") or line.endswith("not sent yet")
               for line in lines[end + 1:]), lines[end + 1:end + 5]


def test_long_names_and_messages_stay_on_one_line(live_server: ServerHandle, tmp_path: Path,
                                                 app_home: Path) -> None:
    folder = tmp_path / "Maths"
    table = folder / ("fractions_" * 8 + "fractions.csv")
    table.parent.mkdir(parents=True)
    table.write_text("a,b,c\n1,2,3\n4,5,6\n")
    sheet = text_file(folder / ("lesson_" + "x" * 90 + ".txt"), 2000)
    result = _upload(str(folder), "--server", live_server.url, f"--token={live_server.token}",
                     "--category", "student_submission", home=app_home)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert f"✓ Maths/{sheet.name}" in lines
    (refused,) = [line for line in lines if line.startswith("✗ ")]
    assert refused.startswith(f"✗ Maths/{table.name}: Student work does not take CSV tables;")
    assert refused.endswith("or Report (report) do.")


def test_a_file_sent_again_after_its_deletion_on_the_server_is_said_once(
        live_server: ServerHandle, tmp_path: Path, app_home: Path) -> None:
    import httpx

    folder = tmp_path / "Wk"
    text_file(folder / "quiz.txt", 2000)
    args = (str(folder), "--server", live_server.url, f"--token={live_server.token}")
    assert _upload(*args, home=app_home).returncode == 0
    headers = {"Authorization": f"Bearer {live_server.token}"}
    (stored,) = httpx.get(f"{live_server.url}/api/v1/files", headers=headers,
                          timeout=10).json()["files"]
    assert httpx.delete(f"{live_server.url}/api/v1/files/{stored['id']}", headers=headers,
                        timeout=10).status_code == 204
    result = _upload(*args, home=app_home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines().count("✓ Wk/quiz.txt") == 1, result.stdout
