"""``upload`` again after a file was deleted: earlier runs' leftovers do not fail the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.engine.engine_support import random_file, text_file
from toolbox_uploader.server.embedded import ServerHandle


def _upload(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "toolbox_uploader", "upload", *args],
                          env=env, capture_output=True, text=True, timeout=60)


def _summary(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def test_a_refused_file_deleted_since_no_longer_fails_the_run(
        live_server: ServerHandle, tmp_path: Path, app_home: Path) -> None:
    week = tmp_path / "week"
    text_file(week / "good.txt", 3000)
    (week / "setup.exe").write_bytes(b"MZ\x90\x00binary")
    server = ("--server", live_server.url, f"--token={live_server.token}")
    first = _upload(str(week), *server, home=app_home)
    assert first.returncode == 1, first.stdout + first.stderr
    (week / "setup.exe").unlink()

    again = _upload(str(week), *server, home=app_home)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 of 1 file uploaded" in again.stdout
    assert "REJECTED" not in again.stdout
    assert "week/setup.exe: no longer there" in again.stdout

    as_json = _upload(str(week), *server, "--json", home=app_home)
    summary = _summary(as_json.stdout)
    assert as_json.returncode == 0 and summary["exit_code"] == 0, as_json.stdout
    assert summary["uploaded"] == 1 and summary["problems"] == []
    assert [g["relative_path"] for g in summary["gone"]] == ["week/setup.exe"]


def test_a_refused_file_still_there_keeps_failing(
        live_server: ServerHandle, tmp_path: Path, app_home: Path) -> None:
    """Also for a name that is not UTF-8: it is stored escaped, so it never exists as
    written, yet the walk still finds the file."""
    week = tmp_path / "week"
    text_file(week / "good.txt", 3000)
    odd = os.fsdecode(bytes(week) + b"/caf\xe9.txt")
    try:
        Path(odd).write_text("menu\n")
    except (OSError, UnicodeError):
        pytest.skip("this file system takes only UTF-8 names")
    server = ("--server", live_server.url, f"--token={live_server.token}")
    first = _upload(str(week), *server, "--json", home=app_home)
    assert first.returncode == 1, first.stdout + first.stderr
    again = _upload(str(week), *server, "--json", home=app_home)
    summary = _summary(again.stdout)
    assert again.returncode == 1, again.stdout + again.stderr
    assert len(summary["problems"]) == 1 and summary.get("gone", []) == []


def test_a_file_deleted_during_the_run_still_fails_it(
        live_server: ServerHandle, tmp_path: Path, app_home: Path) -> None:
    # Over 10 MB, so sent in chunks: a file sent whole in one request from the bytes that
    # were checked is on the server intact even if deleted meanwhile (and counts as done).
    film = random_file(tmp_path / "week" / "film.bin", 12 * 1024 * 1024)
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(app_home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "toolbox_uploader", "upload", str(film.parent), "--server",
         live_server.url, f"--token={live_server.token}", "--category", "temporary",
         "--bandwidth-limit", "512K", "--json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        for line in proc.stdout:
            event = json.loads(line)
            if event["event"] == "item" and event["state"] == "uploading" and \
                    event["bytes_sent"] > 0:
                break
            assert time.monotonic() < deadline, "the upload never started"
        film.unlink()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    summary = _summary(out)
    assert proc.returncode == 1, out + err
    assert [p["relative_path"] for p in summary["problems"]] == ["week/film.bin"]
    assert summary.get("gone", []) == []


def test_an_upload_leaves_the_unfinished_items_of_other_paths_alone(
        live_server: ServerHandle, tmp_path: Path, app_home: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Another folder's upload, cut off in the app (or under another account's token),
    is not this command's to send: it stays in the queue for whoever owns it."""
    from tests.engine.engine_support import server_files, store_cut_off_mid_send
    from toolbox_uploader import paths

    monkeypatch.setenv("TOOLBOX_UPLOADER_HOME", str(app_home))
    other = text_file(tmp_path / "Grades" / "marks.txt", 3000, seed=2)
    store_cut_off_mid_send(paths.session_db_path(), live_server.url, other, "marks.txt",
                           "educational_content")
    week = tmp_path / "week"
    text_file(week / "plan.txt", 3000, seed=5)
    server = ("--server", live_server.url, f"--token={live_server.token}")
    done = _upload(str(week), *server, "--json", home=app_home)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _summary(done.stdout)["uploaded"] == 1
    assert [f["relative_path"] for f in server_files(live_server.url, live_server.token)] == [
        "week/plan.txt"]
