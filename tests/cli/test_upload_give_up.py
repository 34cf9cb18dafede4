"""``upload --give-up-after``: a script does not hang on a server that is down or silent.

The engine keeps retrying for ever (the app wants that); the command stops once none of
its files has moved for that long while they wait for a retry, leaves them resumable in
the store and exits 1. A server that is only restarted keeps working.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.engine_support import (
    free_port,
    random_file,
    serve_subprocess,
    server_files,
    sha256,
    text_file,
)
from toolbox_uploader.server.embedded import ServerHandle

TOKEN = "--token=abcdefghijklmnop"


def _run(*args: str, home: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "toolbox_uploader", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def _events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def _queue(home: Path) -> list[dict]:
    listing = _run("queue", "list", "--json", home=home)
    assert listing.returncode == 0, listing.stderr
    return _events(listing.stdout)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections (the kernel completes them) and never answers a byte."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_nothing_listening_gives_up_and_keeps_the_file_resumable(tmp_path: Path,
                                                                  app_home: Path) -> None:
    path = text_file(tmp_path / "plan.txt", 3000)
    server = f"http://127.0.0.1:{free_port()}"  # bound, closed: nothing listens there
    started = time.monotonic()
    result = _run("upload", str(path), "--server", server, TOKEN, "--give-up-after", "3",
                  "--json", home=app_home)
    took = time.monotonic() - started
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert took < 30, took
    assert "Traceback" not in result.stderr
    assert ("toolbox-uploader upload: no progress for 3 s (The server cannot be reached.); "
            "run the same command again to carry on.") in result.stderr
    summary = _events(result.stdout)[-1]
    assert summary["event"] == "summary" and summary["gave_up"] is True
    assert summary["exit_code"] == 1 and summary["uploaded"] == 0
    assert [(p["relative_path"], p["state"]) for p in summary["problems"]] == [
        ("plan.txt", "failed")]
    (record,) = _queue(app_home)
    assert record["path"] == str(path) and record["state"] == "failed"
    assert record["server"] == server and record["attempts"] >= 1

    # Run again, as the message says: the same item is picked up (not a new one), and
    # the plain summary lists it as not finished.
    again = _run("upload", str(path), "--server", server, TOKEN, "--give-up-after", "2",
                 home=app_home)
    assert again.returncode == 1, again.stdout + again.stderr
    assert "0 of 1 file uploaded" in again.stdout
    assert "FAILED" in again.stdout and "plan.txt: The server cannot be reached." in again.stdout
    assert "no progress for 2 s" in again.stderr
    assert [r["id"] for r in _queue(app_home)] == [record["id"]]


def test_many_files_give_up_on_time(tmp_path: Path, app_home: Path) -> None:
    # With 2,000 files a 10 s limit took 32 s: the coalesced events hid many files' first
    # "ready", so each retry looked like a file prepared for the first time and put the
    # give-up off again. Judged from the engine's live state, it ends on time.
    folder = tmp_path / "Term"
    for n in range(300):
        text_file(folder / f"sheet{n:03d}.txt", 300 + n, seed=n)
    limit = 8
    started = time.monotonic()
    result = _run("upload", str(folder), "--server", f"http://127.0.0.1:{free_port()}", TOKEN,
                  "--give-up-after", str(limit), "--json", home=app_home, timeout=90)
    took = time.monotonic() - started
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert took < limit + 8, took  # starting, checking 300 files, then the limit
    assert f"no progress for {limit} s (The server cannot be reached.)" in result.stderr
    summary = _events(result.stdout)[-1]
    assert summary["gave_up"] is True and summary["uploaded"] == 0
    assert len(summary["problems"]) == 300


@pytest.mark.slow
def test_a_server_that_never_answers_gives_up(silent_server: str, tmp_path: Path,
                                              app_home: Path) -> None:
    path = text_file(tmp_path / "notes.txt", 2000)
    started = time.monotonic()
    # Each request waits for the client's 30 s read timeout before the retry wait begins.
    result = _run("upload", str(path), "--server", silent_server, TOKEN,
                  "--give-up-after", "2", "--json", home=app_home, timeout=120)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert time.monotonic() - started < 100
    # "did not answer" (a read timeout), or "cannot be reached" when a busy machine lets
    # the connection itself time out in the listener's full backlog.
    assert re.search(r"no progress for 2 s \(The server (did not answer|cannot be reached)",
                     result.stderr), result.stderr
    summary = _events(result.stdout)[-1]
    assert summary["gave_up"] is True and summary["problems"][0]["state"] == "failed"
    assert [r["state"] for r in _queue(app_home)] == ["failed"]


def test_give_up_after_0_never_gives_up(tmp_path: Path, app_home: Path) -> None:
    path = text_file(tmp_path / "plan.txt", 3000)
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(app_home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "toolbox_uploader", "upload", str(path), "--server",
         f"http://127.0.0.1:{free_port()}", TOKEN, "--give-up-after", "0", "--json"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=6)  # well past a few retries: still waiting for the server
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            assert proc.wait(timeout=30) == 130
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_a_live_server_is_not_affected(live_server: ServerHandle, tmp_path: Path,
                                       app_home: Path) -> None:
    folder = tmp_path / "Week"
    files = [text_file(folder / f"sheet{n}.txt", 4000 + n, seed=n) for n in range(4)]
    result = _run("upload", str(folder), "--server", live_server.url,
                  f"--token={live_server.token}", "--give-up-after", "1", "--json",
                  home=app_home)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    summary = _events(result.stdout)[-1]
    assert summary["uploaded"] == 4 and summary["gave_up"] is False
    assert "no progress" not in result.stderr
    stored = {f["relative_path"]: f["sha256"]
              for f in server_files(live_server.url, live_server.token)}
    assert stored == {f"Week/{p.name}": sha256(p) for p in files}




@pytest.mark.slow
def test_a_server_killed_and_restarted_soon_just_works(tmp_path: Path,
                                                       app_home: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "server"
    source = random_file(tmp_path / "week" / "assembly.bin", 6 * 1024 * 1024)
    first, url, token = serve_subprocess(port, data_dir)
    servers = [first]
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(app_home)}
    upload = subprocess.Popen(
        [sys.executable, "-m", "toolbox_uploader", "upload", str(source), "--server", url,
         f"--token={token}", "--category", "temporary", "--bandwidth-limit", "1M",
         "--max-chunk-size", "1M", "--give-up-after", "20", "--json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert upload.stdout is not None
        deadline = time.monotonic() + 30
        for line in upload.stdout:  # bounded by the deadline and the process's end
            event = json.loads(line)
            if event["event"] == "item" and event["bytes_sent"] > 1024 * 1024:
                break
            assert time.monotonic() < deadline, "the upload never got going"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        time.sleep(1)
        second, url2, token2 = serve_subprocess(port, data_dir)
        servers.append(second)
        assert (url2, token2) == (url, token)
        out, err = upload.communicate(timeout=120)
        assert upload.returncode == 0, out[-2000:] + err[-2000:]
        summary = _events(out)[-1]
        assert summary["uploaded"] == 1 and summary["gave_up"] is False
        assert [f["sha256"] for f in server_files(url, token)] == [sha256(source)]
    finally:
        if upload.poll() is None:
            upload.kill()
            upload.communicate()
        for proc in servers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
