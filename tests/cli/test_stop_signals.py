"""SIGTERM and SIGHUP stop a command as Ctrl+C does, and Ctrl+C is handled from the start.

``timeout``, systemd and a closed SSH session send SIGTERM or SIGHUP; the upload used to
die with 143 or 129, leaving its item stored as uploading. A Ctrl+C while the modules were
still being imported printed a Python traceback."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.upload_in_progress import (
    INTERRUPTED,
    MIB,
    SIZE,
    cli,
    env,
    partials,
    queue_rows,
    recording,
    start_slow_upload,
    upload_args,
    wait_for_partial,
)
from tests.engine.engine_support import server_files
from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.embedded import ServerHandle


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_saves_the_upload_as_ctrl_c_does(
        stop: signal.Signals, live_server: ServerHandle, server_config: ServerConfig,
        tmp_path: Path, app_home: Path) -> None:
    data = recording(SIZE)
    path = tmp_path / "lecture.bin"
    path.write_bytes(data)
    proc = start_slow_upload(path, live_server, app_home)
    try:
        wait_for_partial(proc, server_config, 2 * MIB)  # a few PATCHes: the server keeps them
        proc.send_signal(stop)
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode in INTERRUPTED, err
    assert "interrupted: run the same command again to resume" in err.decode()
    assert b"Traceback" not in err
    (row,) = queue_rows(app_home)
    assert row["state"] not in ("uploading", "verifying"), row  # saved as resumable
    assert row["state"] in ("ready", "paused") and not row["interrupted"], row
    ((upload, kept),) = partials(server_config).items()
    assert 0 < kept < SIZE

    # The same command again goes on with the same upload on the server.
    again = subprocess.run(upload_args(path, live_server), env=env(app_home),
                           capture_output=True, timeout=60)
    assert again.returncode == 0, again.stderr
    (stored,) = server_files(live_server.url, live_server.token)
    assert stored["id"] == upload, (stored, upload)  # resumed, not sent again
    assert stored["sha256"] == hashlib.sha256(data).hexdigest()


def test_a_stop_signal_that_the_parent_ignores_stays_ignored(
        live_server: ServerHandle, server_config: ServerConfig, tmp_path: Path,
        app_home: Path) -> None:
    """``nohup toolbox-uploader upload …`` must outlive the closed terminal."""
    path = tmp_path / "kept.bin"
    path.write_bytes(recording(3_000_000))  # one request, 128 KB/s: about 23 s
    proc = subprocess.Popen(
        upload_args(path, live_server, "--bandwidth-limit", "128K"), env=env(app_home),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))  # as nohup does
    try:
        wait_for_partial(proc, server_config, 100_000)
        proc.send_signal(signal.SIGHUP)
        time.sleep(1)
        assert proc.poll() is None  # still uploading
        proc.send_signal(signal.SIGTERM)  # not ignored: the clean stop
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode in INTERRUPTED, err
    assert "interrupted: run the same command again to resume" in err.decode()


@pytest.fixture(scope="module")
def start_up() -> float:
    """How long a bare interpreter takes here: a Ctrl+C before its ``site`` import is
    done is the interpreter's own (it says "Fatal Python error"), before any of our code."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "pass"], check=True, timeout=60)
    return time.monotonic() - started


@pytest.mark.parametrize("delay", [0.05, 0.1, 0.15, 0.2, 0.3])
def test_ctrl_c_while_starting_never_shows_a_traceback(
        delay: float, start_up: float, tmp_path: Path, app_home: Path) -> None:
    folder = tmp_path / "worksheets"
    folder.mkdir()
    for n in range(400):  # several seconds of work: the Ctrl+C always comes first
        (folder / f"sheet{n}.txt").write_text(f"worksheet {n}\n")
    # --jobs 1: no worker pool, whose own start-up is another story (see the report).
    proc = subprocess.Popen(cli("validate", "--jobs", "1", str(folder)), env=env(app_home),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(start_up + delay)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode in INTERRUPTED, err
    assert err.decode().strip() == "interrupted"


def test_ctrl_c_in_a_terminal_stops_the_worker_pool_quietly(tmp_path: Path,
                                                            app_home: Path) -> None:
    """A terminal's Ctrl+C reaches every process of the group: the pool's workers as well
    as the command. Only the command answers, with one word."""
    import os

    folder = tmp_path / "worksheets"
    folder.mkdir()
    for n in range(3000):  # far more than the pool checks before the Ctrl+C
        (folder / f"sheet{n}.txt").write_text(f"worksheet {n}\n" * 50)
    proc = subprocess.Popen(cli("validate", "--jobs", "2", "--json", str(folder)),
                            env=env(app_home), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        for _ in range(5):  # the pool is at work once results come back
            assert proc.stdout.readline() and time.monotonic() < deadline
        os.killpg(proc.pid, signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode in INTERRUPTED, err
    assert err.decode().strip() == "interrupted"


def test_a_ctrl_c_disguised_by_a_class_being_defined_is_still_one() -> None:
    """Python 3.11 wraps what ``__set_name__`` raises in a RuntimeError: a Ctrl+C landing
    while a module defines a dataclass arrived as that, and ended in a traceback."""
    from toolbox_uploader.cli import interrupted_by_ctrl_c

    class Interrupting:
        def __set_name__(self, owner: type, name: str) -> None:
            raise KeyboardInterrupt

    try:
        type("Color", (), {"color_operator": Interrupting()})
    except BaseException as exc:  # 3.11: RuntimeError from KeyboardInterrupt; 3.12+: itself
        caught: BaseException = exc
    assert interrupted_by_ctrl_c(caught)
    assert not interrupted_by_ctrl_c(RuntimeError("something else"))
