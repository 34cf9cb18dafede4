"""``toolbox-uploader serve`` as a real process: printed lines, token file, signals, bad flags."""

from __future__ import annotations

import asyncio
import random
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import httpx
import pytest

from toolbox_uploader.cli import main

ROOT = Path(__file__).resolve().parents[2]


class ServeProcess:
    """``python -m toolbox_uploader serve …`` with its printed url and token."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "toolbox_uploader", "serve", "--port", "0", *args],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.stderr = ""
        self.url, self.token = self._read_banner()

    def _read_banner(self, timeout: float = 30.0) -> tuple[str, str]:
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(
            self.proc.stdout.readline() for _ in range(2)), daemon=True)
        reader.start()
        reader.join(timeout)
        if len(lines) < 2 or not all(lines):
            self.proc.kill()
            raise AssertionError(f"no banner: {lines} {self.proc.stderr.read()}")
        assert lines[0].startswith("url: http://127.0.0.1:"), lines
        assert lines[1].startswith("token: "), lines
        return lines[0].split(" ", 1)[1].strip(), lines[1].split(" ", 1)[1].strip()

    def stop(self, sig: int | None = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``sig`` (``None``: it was sent already) and wait for the exit code."""
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
            self.stderr = self.proc.stderr.read()
            return code
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.stdout.close()
            self.proc.stderr.close()


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[list[ServeProcess]]:
    started: list[ServeProcess] = []
    yield started
    for process in started:
        if process.proc.poll() is None:
            process.stop(signal.SIGKILL)


def test_serve_prints_url_and_token_keeps_token_and_stops_on_sigterm(
    tmp_path: Path, serve_process: list[ServeProcess]
) -> None:
    data = tmp_path / "data"
    server = ServeProcess("--data-dir", str(data))
    serve_process.append(server)
    assert httpx.get(f"{server.url}/healthz").json()["status"] == "ok"
    r = httpx.get(f"{server.url}/api/v1/quota", headers={"Authorization": f"Bearer {server.token}"})
    assert r.status_code == 200
    token_file = data / "default-token"
    assert token_file.read_text().strip() == server.token
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert server.stop(signal.SIGTERM) == 0

    again = ServeProcess("--data-dir", str(data))  # same data dir: same token
    serve_process.append(again)
    assert again.token == server.token
    assert again.stop(signal.SIGINT) == 0

    chosen = "a-chosen-token-0123456789"
    third = ServeProcess("--data-dir", str(data), "--token", chosen, "--max-size", "1M")
    serve_process.append(third)
    assert third.token == chosen
    r = httpx.options(f"{third.url}/api/v1/storage/tus/")
    assert r.headers.get("Tus-Max-Size") == str(1024 * 1024)
    r = httpx.get(f"{third.url}/api/v1/files", headers={"Authorization": f"Bearer {chosen}"})
    assert r.status_code == 200
    assert third.stop() == 0


def test_default_data_dir_is_under_the_app_home(
    app_home: Path, serve_process: list[ServeProcess]
) -> None:
    server = ServeProcess()
    serve_process.append(server)
    assert (app_home / "data" / "server" / "default-token").read_text().strip() == server.token
    server.proc.send_signal(signal.SIGINT)  # an impatient double Ctrl+C still exits cleanly
    assert server.stop(signal.SIGINT) == 0
    assert "Traceback" not in server.stderr


def test_in_flight_upload_finishes_after_sigterm(
    tmp_path: Path, serve_process: list[ServeProcess]
) -> None:
    """SIGTERM closes the listener at once, yet a PATCH already sending gets to finish."""
    server = ServeProcess("--data-dir", str(tmp_path / "data"))
    serve_process.append(server)
    auth = {"Authorization": f"Bearer {server.token}", "Tus-Resumable": "1.0.0"}
    content = random.Random(7).randbytes(3 * 1024 * 1024)  # never a program by chance
    first = 2 * 1024 * 1024
    r = httpx.post(f"{server.url}/api/v1/storage/tus/", headers={
        **auth, "Upload-Length": str(len(content)),
        "Upload-Metadata": "filename YS5iaW4=,category dGVtcG9yYXJ5"})
    assert r.status_code == 201
    location = r.headers["Location"]
    location = location if location.startswith("http") else server.url + location
    file_id = location.rstrip("/").rsplit("/", 1)[-1]

    async def run() -> int:
        release = asyncio.Event()

        async def body() -> AsyncIterator[bytes]:
            yield content[:first]
            await release.wait()
            yield content[first:]

        async with httpx.AsyncClient(timeout=30) as client, aiohttp.ClientSession() as ws_client:
            patch = asyncio.ensure_future(client.patch(location, content=body(), headers={
                **auth, "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream"}))
            ws_url = f"{server.url}/ws/upload/{file_id}?token={server.token}"
            async with ws_client.ws_connect(ws_url) as ws:  # wait for bytes on the server
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    event = await ws.receive_json(timeout=10)
                    if event["data"]["bytes_uploaded"] > 0:
                        break
            server.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # the listening socket closes first
                try:
                    async with httpx.AsyncClient() as fresh:  # a new connection each time
                        await fresh.get(f"{server.url}/healthz")
                except httpx.ConnectError:
                    break
                except httpx.RemoteProtocolError:  # accepted just before the listener closed
                    pass
                await asyncio.sleep(0.02)
            else:
                raise AssertionError("the server kept accepting connections")
            release.set()
            return (await patch).status_code

    assert asyncio.run(run()) == 204
    assert server.stop(None) == 0  # SIGTERM was sent above
    again = ServeProcess("--data-dir", str(tmp_path / "data"))
    serve_process.append(again)
    r = httpx.get(f"{again.url}/api/v1/files/{file_id}/content",
                  headers={"Authorization": f"Bearer {again.token}"})
    assert r.status_code == 200 and r.content == content
    assert again.stop() == 0


@pytest.mark.parametrize("flags", [
    ["--port", "70000"], ["--port", "-1"], ["--port", "http"], ["--max-size", "-5"],
    ["--max-size", "0"], ["--max-size", "lots"], ["--token", "short"],
    ["--token", "has space in the middle of it"], ["--unknown"],
])
def test_bad_flags_are_usage_errors(flags: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", *flags])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


def test_unusable_data_dir_and_busy_port_are_runtime_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    assert main(["serve", "--port", "0", "--data-dir", str(blocker / "sub")]) == 1
    assert "cannot use data directory" in capsys.readouterr().err

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["serve", "--port", str(port), "--data-dir", str(tmp_path / "d")])
    assert code == 1
    err = capsys.readouterr().err
    assert f"port {port}" in err and "in use" in err and "Traceback" not in err


@pytest.mark.parametrize("host", ["", "  "])
def test_an_empty_host_is_a_usage_error(host: str, tmp_path: Path) -> None:
    # Not a server on every interface that announces "url: http://:PORT".
    proc = subprocess.Popen(
        [sys.executable, "-m", "toolbox_uploader", "serve", "--host", host, "--port", "0",
         "--data-dir", str(tmp_path / "d")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
        raise AssertionError(f"it served: {out!r}") from None
    assert proc.returncode == 2, out + err
    assert "--host: needs an address" in err and "Traceback" not in err
    assert out == ""


def test_a_file_given_as_data_dir_is_named_as_such(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "server-data"
    blocker.write_text("not a folder")
    assert main(["serve", "--port", "0", "--data-dir", str(blocker)]) == 1
    assert main(["user", "add", "anna", "--data-dir", str(blocker)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [f"toolbox-uploader {cmd}: error: cannot use data directory {str(blocker)!r}: "
                   "it is a file, not a folder" for cmd in ("serve", "user")]
    assert blocker.read_text() == "not a folder"
