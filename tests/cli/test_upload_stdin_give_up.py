"""``upload -`` waits for a server that is away as ``upload`` of files does: it keeps trying
until ``--give-up-after`` seconds pass without progress, and a server restarted meanwhile
just carries on. A pipe that is only quiet (a paused recording) is not given up on."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.engine.engine_support import free_port, serve_subprocess, server_files
from toolbox_uploader.core.stream_upload import GAVE_UP, stream_upload
from toolbox_uploader.core.transfer_errors import TransferError
from toolbox_uploader.server.embedded import ServerHandle

MIB = 1024 * 1024
TOKEN = "--token=abcdefghijklmnop"


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "toolbox_uploader", "upload", "-", *args]


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "TOOLBOX_UPLOADER_HOME": str(home)}


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "plain"])
def test_nothing_listening_gives_up_after_the_time_given(app_home: Path,
                                                         as_json: bool) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = subprocess.run(
        _command("--name", "register.csv", "--server", nowhere, TOKEN, "--give-up-after",
                 "3", *(["--json"] if as_json else [])),
        env=_env(app_home), input=b"name,present\nAda,yes\n", capture_output=True,
        timeout=60)
    took = time.monotonic() - started
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert 2.5 < took < 30, took  # it did wait, with retries, and no longer than asked
    assert "Traceback" not in err
    message = "no progress for 3 s (The server cannot be reached"
    if as_json:
        summary = json.loads(result.stdout.decode().strip().splitlines()[-1])
        assert summary["event"] == "summary" and summary["gave_up"] is True
        assert summary["exit_code"] == 1 and summary["uploaded"] == 0
        assert summary["error"]["code"] == GAVE_UP
        assert summary["error"]["message"].startswith(message)
    else:
        assert err.startswith(f"toolbox-uploader upload: register.csv: {message}")
        assert len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_server_restarted_mid_stream_just_carries_on(tmp_path: Path,
                                                       app_home: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "server"
    first, url, token = serve_subprocess(port, data_dir)
    servers = [first]
    parts = [os.urandom(MIB) for _ in range(6)]
    upload = subprocess.Popen(
        _command("--name", "assembly.bin", "--category", "temporary", "--server", url,
                 f"--token={token}", "--max-chunk-size", "1M", "--give-up-after", "60",
                 "--json"),
        env=_env(app_home), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    assert upload.stdin is not None
    try:
        for part in parts[:2]:
            upload.stdin.write(part)
            upload.stdin.flush()
        time.sleep(1.5)  # some of it on the server
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        for part in parts[2:4]:  # the recording goes on while the server is away
            upload.stdin.write(part)
            upload.stdin.flush()
        time.sleep(2)  # a failed PATCH or two, then waiting for the next try
        second, url2, token2 = serve_subprocess(port, data_dir)
        servers.append(second)
        assert (url2, token2) == (url, token)
        out, err = upload.communicate(b"".join(parts[4:]), timeout=120)  # then the end
        assert upload.returncode == 0, out[-2000:] + err[-2000:]
        summary = json.loads(out.decode().strip().splitlines()[-1])
        whole = b"".join(parts)
        assert summary["size"] == len(whole)
        assert summary["sha256"] == hashlib.sha256(whole).hexdigest()
        stored = server_files(url, token)
        assert [(f["filename"], f["sha256"]) for f in stored] == [
            ("assembly.bin", hashlib.sha256(whole).hexdigest())]
    finally:
        if upload.poll() is None:
            upload.kill()
            upload.wait()
        for server in servers:
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
                server.wait(30)
            if server.stdout is not None:
                server.stdout.close()


def test_a_quiet_pipe_is_not_given_up_on(live_server: ServerHandle) -> None:
    """Longer silence on the pipe than ``give_up_after``: nothing failed, so it waits."""
    read_end, write_end = os.pipe()
    first, second = b"take 1\n" * 100, b"take 2\n" * 100

    def record() -> None:
        with open(write_end, "wb", buffering=0) as out:
            out.write(first)
            time.sleep(2.5)  # the teacher paused the recording
            out.write(second)

    writer = threading.Thread(target=record, daemon=True)
    writer.start()

    async def run() -> dict[str, object]:
        with open(read_end, "rb", buffering=0) as source:
            return await stream_upload(source, server_url=live_server.url, endpoint=None,
                                       token=live_server.token, name="lesson.txt",
                                       category="temporary", give_up_after=1)

    result = asyncio.run(asyncio.wait_for(run(), timeout=60))
    writer.join(10)
    assert result["size"] == len(first + second)
    assert result["sha256"] == hashlib.sha256(first + second).hexdigest()


def test_a_refusal_is_not_waited_on(live_server: ServerHandle) -> None:
    """Only failures worth another try wait: a wrong token ends the stream at once."""
    read_end, write_end = os.pipe()
    os.write(write_end, b"hello\n")
    os.close(write_end)

    async def run() -> dict[str, object]:
        with open(read_end, "rb", buffering=0) as source:
            return await stream_upload(source, server_url=live_server.url, endpoint=None,
                                       token="not-the-token-at-all", name="a.txt",
                                       category="temporary", give_up_after=60)

    started = time.monotonic()
    with pytest.raises(TransferError) as failure:
        asyncio.run(asyncio.wait_for(run(), timeout=30))
    assert time.monotonic() - started < 10
    assert failure.value.code != GAVE_UP and failure.value.status == 401


def test_many_quick_failures_do_not_end_a_stream_that_never_gives_up(
        live_server: ServerHandle, app_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--give-up-after 0`` is never: the engine's cap of 12 tries for a busy server is
    not a second, hidden limit on a pipe (nor, with a time limit, an end before it)."""
    from tests.support.fault_proxy import ThreadedFaultProxy
    from toolbox_uploader.core.scheduler import MAX_TRANSIENT_ATTEMPTS

    monkeypatch.setattr(random, "uniform", lambda low, _high: low)  # no backoff: quick
    cuts = MAX_TRANSIENT_ATTEMPTS + 3
    data = b"row,mark\n" * 500
    read_end, write_end = os.pipe()
    os.write(write_end, data)
    os.close(write_end)

    async def run(url: str, give_up_after: float) -> dict[str, object]:
        with open(read_end, "rb", buffering=0) as source:
            return await stream_upload(source, server_url=url, endpoint=None,
                                       token=live_server.token, name="marks.csv",
                                       category="temporary", give_up_after=give_up_after)

    host, port = live_server.url.rsplit(":", 1)
    with ThreadedFaultProxy(host.removeprefix("http://"), int(port), reset=1.0,
                            methods={"POST"}, max_faults=cuts) as proxy:
        result = asyncio.run(asyncio.wait_for(run(proxy.url, 0), timeout=60))
        assert proxy.stats.resets == cuts
    assert result["sha256"] == hashlib.sha256(data).hexdigest()


def test_ctrl_c_while_waiting_for_the_server_ends_at_once(app_home: Path) -> None:
    """Between two tries nothing is in flight and nothing was created: Ctrl+C needs no
    grace for a clean-up (it used to wait out 1.5 s for a creation that was asleep)."""
    proc = subprocess.Popen(
        _command("--name", "notes.txt", "--server", f"http://127.0.0.1:{free_port()}", TOKEN,
                 "--give-up-after", "60"),
        env=_env(app_home), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    try:
        assert proc.stdin is not None
        proc.stdin.write(b"Monday: fractions\n")
        proc.stdin.flush()
        time.sleep(2.5)  # the first tries failed (nothing listens); now between two tries
        began = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        took = time.monotonic() - began
        err = proc.stderr.read().decode() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert err.strip() == "interrupted"
    assert took < 1.2, took  # it was 1.6-1.7 s
