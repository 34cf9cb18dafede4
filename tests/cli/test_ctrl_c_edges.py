"""Ctrl+C at the edges of a command's life: after its work is over, and while a pipe is
sent to a server that has stopped answering.

Once ``main`` has returned, the interpreter still takes 0.2-0.3 s to exit and puts the
default signal handlers back first: a Ctrl+C (or SIGTERM) then killed the process by the
signal, with no message, instead of letting it end with the command's exit code. And an
``upload -`` to a server that accepts connections but never answers took 3-4 s to end
after Ctrl+C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.upload_in_progress import cli, env, partials
from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.embedded import ServerHandle

#: ``main`` as the console script runs it (``argv`` None), then a pause on standard input
#: standing in for the interpreter's exit, during which the test sends its signal.
_THEN_WAIT = """
import sys
sys.argv = ["toolbox-uploader", *sys.argv[1:]]
from toolbox_uploader.cli import main
code = main()
print("main returned", file=sys.stderr, flush=True)
sys.stdin.read()
sys.exit(code)
"""


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_after_the_command_is_over_keeps_its_exit_code(
        stop: signal.Signals, tmp_path: Path, app_home: Path) -> None:
    sheet = tmp_path / "sheet.txt"
    sheet.write_text("worksheet 1\n")
    proc = subprocess.Popen([sys.executable, "-c", _THEN_WAIT, "validate", str(sheet)],
                            env=env(app_home), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stderr is not None
    try:
        assert proc.stderr.readline() == b"main returned\n"  # bounded by the command
        proc.send_signal(stop)
        out, err = proc.communicate(timeout=30)  # closes standard input: the exit goes on
    finally:
        proc.kill()
    assert proc.returncode == 0, err  # was -2 (-15): killed after the work was done
    assert b"Traceback" not in err and err == b""
    assert b"sheet.txt" in out


class _Silent:
    """A server that accepts connections and reads what comes, and never answers."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.received = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._socket.accept()
            except OSError:
                return
            threading.Thread(target=self._drain, args=(conn,), daemon=True).start()

    def _drain(self, conn: socket.socket) -> None:
        with conn:
            try:
                while conn.recv(65536):
                    self.received.set()
            except OSError:
                return

    def close(self) -> None:
        self._closed = True
        self._socket.close()


@pytest.fixture
def silent_server() -> Iterator[_Silent]:
    server = _Silent()
    try:
        yield server
    finally:
        server.close()


def test_ctrl_c_of_a_pipe_sent_to_a_server_that_never_answers_ends_promptly(
        silent_server: _Silent, app_home: Path) -> None:
    """The writer of the pipe is still there (only the command got the Ctrl+C), and the
    server will never answer the creation nor a DELETE: the command must not wait out
    ``stream_upload``'s 3 s grace and its reader thread."""
    read_end, write_end = os.pipe()
    try:
        proc = subprocess.Popen(
            cli("upload", "-", "--name", "talk.txt", "--server",
                f"http://127.0.0.1:{silent_server.port}", "--token=abcdefghijklmnop"),
            env=env(app_home), stdin=read_end, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        os.close(read_end)
        os.write(write_end, b"a recorder's first words\n" * 100)
        try:
            assert silent_server.received.wait(30), "the upload did not start"
            proc.send_signal(signal.SIGINT)
            sent = time.monotonic()
            _out, err = proc.communicate(timeout=30)
            took = time.monotonic() - sent
        finally:
            proc.kill()
    finally:
        os.close(write_end)
    assert proc.returncode == 130, err
    assert err.decode().strip() == "interrupted"
    assert took < 2.0, f"Ctrl+C took {took:.2f} s"  # was 4.1 s
    spool = app_home / "cache" / "stdin"
    assert not spool.exists() or not list(spool.iterdir())  # the local copy is gone


@pytest.mark.slow
def test_ctrl_c_of_a_pipe_upload_still_ends_the_json_with_a_summary(
        live_server: ServerHandle, server_config: ServerConfig, app_home: Path) -> None:
    """``--json`` promises a last ``summary`` line after Ctrl+C too; ``upload -`` printed
    nothing at all."""
    read_end, write_end = os.pipe()
    try:
        proc = subprocess.Popen(
            cli("upload", "-", "--name", "talk.txt", "--json", "--server", live_server.url,
                f"--token={live_server.token}"),
            env=env(app_home), stdin=read_end, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        os.close(read_end)
        os.write(write_end, b"a recorder's first words\n" * 100)
        try:
            deadline = time.monotonic() + 30
            while not partials(server_config):  # created there: the stream is on its way
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.02)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
    finally:
        os.close(write_end)
    assert proc.returncode == 130, err
    assert err.decode().strip() == "interrupted"
    *_, last = [json.loads(line) for line in out.decode().splitlines()]
    assert last["event"] == "summary" and last["interrupted"] is True
    assert last["exit_code"] == 130 and last["uploaded"] == 0
    assert partials(server_config) == {}  # a pipe cannot resume: deleted there


#: A Ctrl+C landing in a ``gc`` callback, as one lands in a finalizer or in importlib's
#: weakref callbacks: raised there once ``main`` imports the commands, it cannot propagate.
_CTRL_C_IN_A_CALLBACK = """
import gc, sys
sys.argv = ["toolbox-uploader", *sys.argv[1:]]
from toolbox_uploader.cli import main
raised = []

def ctrl_c(phase, info):
    if phase == "stop" and not raised and "toolbox_uploader.commands" in sys.modules:
        raised.append(phase)
        raise KeyboardInterrupt

gc.callbacks.append(ctrl_c)
sys.exit(main())
"""


def test_a_ctrl_c_that_lands_in_a_finalizer_still_interrupts(tmp_path: Path,
                                                             app_home: Path) -> None:
    """Python reports such a ``KeyboardInterrupt`` as "Exception ignored" and drops it:
    the command went on and exited 0 (seen while ``validate`` imported its modules)."""
    folder = tmp_path / "worksheets"
    folder.mkdir()
    for n in range(400):  # seconds of work: the Ctrl+C comes long before the end
        (folder / f"sheet{n}.txt").write_text(f"worksheet {n}\n")
    result = subprocess.run(
        [sys.executable, "-c", _CTRL_C_IN_A_CALLBACK, "validate", "--jobs", "1", str(folder)],
        env=env(app_home), capture_output=True, text=True, timeout=60)
    assert result.returncode == 130, result.stderr  # was 0, after "Exception ignored in"
    assert result.stderr.strip() == "interrupted"
