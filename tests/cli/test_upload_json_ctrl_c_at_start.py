"""``upload --json`` stopped by Ctrl+C before any upload began still ends with its
``summary`` line (``"interrupted": true``), as README promises for every Ctrl+C: a script
that waits for that line used to get nothing when the local server was still starting."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.engine.engine_support import text_file


def _wait_for_reader(fifo: Path, limit: float = 20.0) -> int:
    """A write end of ``fifo``, once the command has opened it for reading (it is then
    inside the local server's start, reading the remembered port)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                raise
        time.sleep(0.02)
    raise AssertionError("the command never read the local server's port file")


def test_ctrl_c_while_the_local_server_starts_still_gives_a_json_summary(
        tmp_path: Path, app_home: Path) -> None:
    sheet = text_file(tmp_path / "sheet.txt", 2000)
    port_file = app_home / "data" / "server" / "last-port.json"
    port_file.parent.mkdir(parents=True)
    os.mkfifo(port_file)  # its reading waits for a writer: a start held at a known moment
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(app_home)}
    proc = subprocess.Popen([sys.executable, "-m", "toolbox_uploader", "upload", str(sheet),
                             "--json"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        writer = _wait_for_reader(port_file)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.2)  # the Ctrl+C lands while the start still waits
        with contextlib.suppress(BrokenPipeError):  # the command may be gone already
            os.write(writer, b"{}\n")  # never leave its server's start waiting
        os.close(writer)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err.decode()
    assert b"Traceback" not in err, err.decode()
    lines = out.decode().splitlines()
    assert lines, f"no summary line; stderr: {err.decode()}"
    summary = json.loads(lines[-1])
    assert summary["event"] == "summary" and summary["interrupted"] is True
    assert summary["exit_code"] == 130 and summary["uploaded"] == 0
