"""A clamd address that is well formed but where nothing answers (clamd not running, a
wrong port) is found by one PING before any file: ``validate`` and ``upload`` stop with
one line and exit 1, ``serve`` warns once and runs; an empty ``--clamd ""`` is a usage
error, never "use the environment" nor "no scanning"."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from toolbox_uploader.core.validation.scanner import ClamdScanner

_ANSWERS = {b"zPING\0": b"PONG\0", b"zINSTREAM\0": b"stream: OK\0"}


def _cli(*args: str, home: Path, clamd_env: str | None = None,
         ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(home), "COLUMNS": "300"}
    env.pop("TOOLBOX_UPLOADER_CLAMD", None)
    if clamd_env is not None:
        env["TOOLBOX_UPLOADER_CLAMD"] = clamd_env
    return subprocess.run([sys.executable, "-m", "toolbox_uploader", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def _files(folder: Path, count: int = 3) -> Path:
    folder.mkdir()
    for number in range(count):
        (folder / f"note{number}.txt").write_text(f"note {number}\n")
    return folder


@contextlib.contextmanager
def _stand_in_clamd(answer: bool) -> Iterator[str]:
    """A unix socket that talks clamd's protocol just enough (PING, INSTREAM of clean
    files), or, with ``answer`` False, takes connections and never says a word."""
    folder = Path(tempfile.mkdtemp(prefix="tbu-clamd-"))  # socket paths: ~107 bytes at most
    path = folder / "clamd.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(16)
    server.settimeout(0.1)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve_one(conn: socket.socket) -> None:
        conn.settimeout(5)
        data = b""
        with contextlib.suppress(OSError):
            while (command := next((c for c in _ANSWERS if data.startswith(c)), None)) is None:
                part = conn.recv(4096)
                if not part:
                    return
                data += part
            if command == b"zINSTREAM\0":
                while not data.endswith(b"\0\0\0\0"):  # the zero-length last chunk
                    part = conn.recv(65536)
                    if not part:
                        return
                    data += part
            conn.sendall(_ANSWERS[command])
        conn.close()

    def accept() -> None:
        deadline = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            if answer:
                threading.Thread(target=serve_one, args=(conn,), daemon=True).start()
            else:
                held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield str(path)
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        server.close()
        path.unlink(missing_ok=True)
        folder.rmdir()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("address", ["/no/such/clamd.sock", "unix:/no/such/clamd.sock",
                                     "tcp:127.0.0.1:{port}"])
def test_validate_says_once_that_clamd_cannot_be_reached(address: str, tmp_path: Path,
                                                         app_home: Path) -> None:
    folder = _files(tmp_path / "Lessons")
    address = address.format(port=_free_port())
    result = _cli("validate", "--clamd", address, str(folder), home=app_home)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""  # no table of files refused one by one with scan_failed
    assert result.stderr.startswith("toolbox-uploader validate: error: --clamd: the virus "
                                    "scanner (clamd) at ")
    assert "cannot be reached" in result.stderr and "Nothing was checked" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_validate_from_the_environment_names_the_variable(tmp_path: Path,
                                                          app_home: Path) -> None:
    folder = _files(tmp_path / "Lessons")
    result = _cli("validate", "--json", str(folder), home=app_home,
                  clamd_env="/no/such/clamd.sock")
    assert result.returncode == 1 and result.stdout == ""
    assert "error: $TOOLBOX_UPLOADER_CLAMD: the virus scanner (clamd) at /no/such/clamd.sock " \
           "cannot be reached (no such file or directory)" in result.stderr


def test_upload_with_the_local_server_stops_before_sending(tmp_path: Path,
                                                           app_home: Path) -> None:
    folder = _files(tmp_path / "Lessons")
    result = _cli("upload", "--json", str(folder), home=app_home,
                  clamd_env="/no/such/clamd.sock")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["event"] for line in lines] == ["summary"]  # no item refused one by one
    assert "cannot be reached" in lines[0]["message"]
    assert result.stderr.count("the virus scanner (clamd) at /no/such/clamd.sock") == 1


def test_serve_warns_once_and_still_starts(tmp_path: Path, app_home: Path) -> None:
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(app_home),
           "TOOLBOX_UPLOADER_CLAMD": "/no/such/clamd.sock"}
    process = subprocess.Popen(
        [sys.executable, "-m", "toolbox_uploader", "serve", "--port", "0", "--data-dir",
         str(tmp_path / "server")], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("url: http://127.0.0.1:")
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert stderr.count("warning: $TOOLBOX_UPLOADER_CLAMD: the virus scanner (clamd)") == 1
    assert "refused (scan_failed) until it answers" in stderr


def test_a_clamd_that_answers_is_used(tmp_path: Path, app_home: Path) -> None:
    folder = _files(tmp_path / "Lessons")
    with _stand_in_clamd(answer=True) as address:
        result = _cli("validate", "--json", "--clamd", address, str(folder), home=app_home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [json.loads(line)["verdict"] for line in result.stdout.splitlines()] == ["accept"] * 3


def test_a_silent_address_is_given_up_on_quickly() -> None:
    with _stand_in_clamd(answer=False) as address:
        started = time.monotonic()
        problem = ClamdScanner.from_address(address).unreachable(timeout=0.3)
    assert problem is not None and "no answer within 0.3 s" in problem
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("empty", ["", "  "])
def test_an_empty_clamd_option_is_a_usage_error(empty: str, tmp_path: Path,
                                                app_home: Path) -> None:
    folder = _files(tmp_path / "Lessons", 1)
    # Not a fall-back to the variable (here a bad one, which would be said instead)...
    result = _cli("validate", "--clamd", empty, str(folder), home=app_home, clamd_env="ftp://x")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("toolbox-uploader validate: error: --clamd needs an "
                                    "address")
    # ...nor a quiet "check without a virus scan".
    result = _cli("validate", "--clamd", empty, str(folder), home=app_home)
    assert result.returncode == 2 and result.stdout == ""
