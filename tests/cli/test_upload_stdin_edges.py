"""``upload -`` at its edges, and tokens that cannot go into an HTTP header: usage errors
before anything runs, Ctrl+C on a slow pipe or while the upload is being created, and a
stream larger than the category allows."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.engine.engine_support import free_port, server_files, text_file
from tests.support.fault_proxy import ThreadedFaultProxy
from toolbox_uploader.core.categories import get_category
from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.embedded import ServerHandle


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "toolbox_uploader", "upload", *args]


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "TOOLBOX_UPLOADER_HOME": str(home)}


def _nowhere() -> list[str]:
    """A server where nothing listens: a check that let something through ends quickly."""
    return ["--server", f"http://127.0.0.1:{free_port()}"]


def _left_on_server(config: ServerConfig) -> list[Path]:
    uploads = config.data_dir / "uploads"
    return [p for p in uploads.iterdir() if p.is_file()] if uploads.exists() else []


@pytest.mark.parametrize(("name", "message"), [
    (os.fsdecode(b"notes\xe9.txt"), "--name 'notes\\xe9.txt' is not UTF-8 text"),
    ("b" * 300 + ".txt", "--name: a name longer than 255 bytes is refused"),
    ("Week 3/" + "é" * 128 + ".txt", "--name: a name longer than 255 bytes is refused"),
    ("two\nlines.txt", "--name 'two\\nlines.txt' contains control characters"),
])
def test_bad_stdin_names_are_usage_errors(name: str, message: str, app_home: Path) -> None:
    result = subprocess.run(_command("-", "--name", name, *_nowhere(),
                                     "--token=abcdefghijklmnop"),
                            env=_env(app_home), input=b"hi\n", capture_output=True, timeout=60)
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 2, err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_closed_standard_input_is_a_usage_error(app_home: Path) -> None:
    result = subprocess.run(
        ["/bin/sh", "-c", 'exec "$@" <&-', "sh", *_command("-", "--name", "c.txt",
                                                       *_nowhere(), "--token=abcdefghijklmnop")],
        env=_env(app_home), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "standard input is closed" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("token", ["goodtoken-12345678ü0", "goodtoken-1234567890\n",
                                   "good token 1234567890"])
@pytest.mark.parametrize("stdin", [False, True])
def test_a_token_that_is_not_header_text_is_a_usage_error(
        token: str, stdin: bool, live_server: ServerHandle, tmp_path: Path,
        app_home: Path) -> None:
    path = text_file(tmp_path / "a.txt", 1000)
    args = ["-", "--name", "t.txt"] if stdin else [str(path)]
    result = subprocess.run(_command(*args, "--server", live_server.url, "--token", token,
                                     "--give-up-after", "5"),
                            env=_env(app_home), input="hi\n", capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--token: The token has characters a token cannot have" in result.stderr
    assert "Traceback" not in result.stderr and token.strip() not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (app_home / "data" / "sessions.sqlite3").exists()  # nothing ran
    assert server_files(live_server.url, live_server.token) == []


def test_a_token_from_the_environment_is_checked_too(live_server: ServerHandle, tmp_path: Path,
                                                     app_home: Path) -> None:
    path = text_file(tmp_path / "a.txt", 1000)
    env = {**_env(app_home), "TOOLBOX_UPLOADER_TOKEN": "goodtoken-12345678ü0"}
    result = subprocess.run(_command(str(path), "--server", live_server.url), env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "TOOLBOX_UPLOADER_TOKEN" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_ctrl_c_during_a_slow_pipe_exits_130(live_server: ServerHandle,
                                             server_config: ServerConfig,
                                             app_home: Path) -> None:
    proc = subprocess.Popen(_command("-", "--name", "slow.txt", "--server", live_server.url,
                                     f"--token={live_server.token}"),
                            env=_env(app_home), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdin is not None
    stdin = proc.stdin

    def slow_pipe() -> None:  # a line now and then, as from a recorder; at most 60 s
        for n in range(300):
            if proc.poll() is not None:
                return
            try:
                stdin.write(f"line {n}\n".encode())
                stdin.flush()
            except (BrokenPipeError, ValueError):
                return
            time.sleep(0.2)

    writer = threading.Thread(target=slow_pipe, daemon=True)
    writer.start()
    try:
        spool = app_home / "cache" / "stdin"
        deadline = time.monotonic() + 30
        # The reader thread is waiting on the pipe once the first lines are spooled.
        while not (spool.is_dir() and any(p.stat().st_size > 20 for p in spool.iterdir())):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        err = proc.stderr.read() if proc.stderr else b""
        proc.wait(timeout=30)
    finally:
        proc.kill()
        writer.join(timeout=5)
    assert proc.returncode == 130, err
    assert b"Fatal Python error" not in err and b"Traceback" not in err
    assert err.decode().strip() == "interrupted"
    # A pipe cannot be sent again: what it had sent is not left on the server.
    assert _left_on_server(server_config) == []


@pytest.mark.slow
def test_ctrl_c_while_the_upload_is_created_still_deletes_it(live_server: ServerHandle,
                                                              server_config: ServerConfig,
                                                              app_home: Path) -> None:
    port = live_server.url.rsplit(":", 1)[1]
    # The server creates the upload; its answer reaches the command a second later.
    with ThreadedFaultProxy("127.0.0.1", int(port), late_answer=1.0, methods={"POST"},
                            stall_seconds=1.0) as proxy:
        proc = subprocess.Popen(_command("-", "--name", "late.txt", "--server", proxy.url,
                                         f"--token={live_server.token}"),
                                env=_env(app_home), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while not _left_on_server(server_config):  # created, answer held
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.02)
            assert proxy.stats.late_responses == 1
            proc.send_signal(signal.SIGINT)
            _out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
    assert proc.returncode == 130, err
    assert err.decode().strip() == "interrupted"
    assert _left_on_server(server_config) == []


@pytest.mark.slow
def test_a_stream_over_the_limit_is_cut_and_deleted(live_server: ServerHandle,
                                                     server_config: ServerConfig,
                                                     app_home: Path) -> None:
    limit = get_category("avatar").max_size  # small enough to test
    with open("/dev/zero", "rb") as zeros:
        proc = subprocess.Popen(
            _command("-", "--name", "z.bin", "--category", "avatar", "--server",
                     live_server.url, f"--token={live_server.token}", "--json"),
            env=_env(app_home), stdin=zeros, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        peak = 0
        deadline = time.monotonic() + 60
        spool = app_home / "cache" / "stdin"
        while proc.poll() is None:  # bounded by the deadline
            assert time.monotonic() < deadline
            if spool.is_dir():
                peak = max([peak, *(p.stat().st_size for p in spool.iterdir()
                                    if p.exists())])
            time.sleep(0.01)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1, err
    assert peak <= limit
    summary = json.loads(out.decode().splitlines()[-1])
    assert summary["error"]["code"] == "too_large"
    assert err == b""  # no asyncio noise
    uploads = server_config.data_dir / "uploads"
    assert not uploads.exists() or not [p for p in uploads.iterdir() if p.is_file()]
    assert server_files(live_server.url, live_server.token) == []


def _remove_on_server(live_server: ServerHandle, config: ServerConfig,
                      proc: subprocess.Popen[bytes], *, besides: set[str]) -> str:
    """Wait (bounded) for an upload other than ``besides`` to hold bytes; delete it there."""
    deadline = time.monotonic() + 30
    while True:
        parts = [p for p in _left_on_server(config)
                 if p.stem not in besides and p.stat().st_size > 0]
        if parts:
            break
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    removed = httpx.delete(f"{live_server.url}/api/v1/storage/tus/{parts[0].stem}",
                           headers={"Tus-Resumable": "1.0.0",
                                    "Authorization": f"Bearer {live_server.token}"})
    assert removed.status_code == 204
    return parts[0].stem


@pytest.mark.parametrize("removals", [1, 2])
def test_an_upload_removed_mid_stream_starts_over_once(
        live_server: ServerHandle, server_config: ServerConfig, app_home: Path,
        removals: int) -> None:
    """The server dropped the upload (deleted there, or expired) while the pipe was still
    being sent: the spool still holds every byte, so the stream starts over once, as a
    file would; a second loss ends it with a message that says what happened."""
    proc = subprocess.Popen(
        _command("-", "--name", "rec.bin", "--category", "temporary", "--server",
                 live_server.url, f"--token={live_server.token}", "--give-up-after", "20",
                 "--max-chunk-size", "1M"),
        env=_env(app_home), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    assert proc.stdin is not None
    head, middle, tail = (os.urandom(n) for n in (3 * 1024 * 1024, 1_200_000, 300_000))
    try:
        proc.stdin.write(head)  # pieces of 1M go out
        proc.stdin.flush()
        first = _remove_on_server(live_server, server_config, proc, besides=set())
        proc.stdin.write(middle)  # over 1M: a PATCH goes, and finds the upload gone
        proc.stdin.flush()
        if removals == 2:  # and the second upload, once the spool is being sent again
            _remove_on_server(live_server, server_config, proc, besides={first})
        out, err = proc.communicate(tail, timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = err.decode()
    assert "Traceback" not in text
    if removals == 1:
        assert proc.returncode == 0, text
        assert "the server lost the first upload, so it was sent again from the start" in (
            out.decode())
        (stored,) = server_files(live_server.url, live_server.token)
        assert stored["sha256"] == hashlib.sha256(head + middle + tail).hexdigest()
        assert stored["size"] == len(head) + len(middle) + len(tail)
    else:
        assert proc.returncode == 1, text
        assert len(text.strip().splitlines()) == 1
        assert "rec.bin: The upload was removed from the server again while it was being " \
            "sent" in text
        assert server_files(live_server.url, live_server.token) == []
    assert not _left_on_server(server_config)  # nothing unfinished stays there
    assert not list((app_home / "cache").rglob("*.part"))  # the spool is gone too
