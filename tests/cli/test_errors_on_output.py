"""Failures around standard output: a full disk is one line (not a traceback per batch),
and a broken pipe that is not standard output is reported, not taken for ``| head``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine.engine_support import server_files, text_file
from toolbox_uploader.commands.closable_stdout import ClosableStdout
from toolbox_uploader.server.embedded import ServerHandle


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_json_to_a_full_disk_is_one_line(live_server: ServerHandle, tmp_path: Path,
                                         app_home: Path) -> None:
    folder = tmp_path / "Sheets"
    for n in range(12):
        text_file(folder / f"s{n}.txt", 2000 + n, seed=n)
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(app_home)}
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "toolbox_uploader", "upload", str(folder), "--json",
             "--server", live_server.url, f"--token={live_server.token}"],
            env=env, stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "toolbox-uploader upload: error: [Errno 28] No space left on device"]
    assert len(server_files(live_server.url, live_server.token)) == 12  # the work was done
    listing = subprocess.run([sys.executable, "-m", "toolbox_uploader", "queue", "list",
                              "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert {json.loads(line)["state"] for line in listing.stdout.splitlines()} == {"done"}


def test_reader_gone_tells_a_closed_pipe_from_an_open_one() -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "w") as stream:
        closable = ClosableStdout(stream)
        assert not closable.reader_gone()
        os.close(read_end)
        assert closable.reader_gone()


def test_a_broken_pipe_that_is_not_stdout_is_an_error(tmp_path: Path, app_home: Path) -> None:
    # A worker pool that cannot start (its interpreter is gone) fails with BrokenPipeError
    # while standard output's reader is still there.
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(
        (Path(sys.prefix) / "pyvenv.cfg").read_text() if (Path(sys.prefix) /
                                                           "pyvenv.cfg").exists() else "")
    (venv / "lib").symlink_to(Path(sys.prefix) / "lib")
    python = venv / "bin" / "python"
    python.symlink_to(os.path.realpath(sys.executable))
    folder = tmp_path / "Sheets"
    folder.mkdir()
    for n in range(200):  # enough for a pool of workers
        (folder / f"s{n}.txt").write_text(f"hello {n}\n")
    script = ("import os, sys; os.unlink(sys.executable); "
              "from toolbox_uploader.cli import main; "
              f"sys.exit(main(['validate', '--json', '--jobs', '2', {str(folder)!r}]))")
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(app_home),
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    result = subprocess.run([str(python), "-c", script], env=env, capture_output=True,
                            text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 1
    # Said as an error, not swallowed as a reader that left (multiprocessing's own
    # resource tracker may add its warning: that is not the command's output).
    errors = [line for line in result.stderr.splitlines()
              if line.startswith("toolbox-uploader validate: error:")]
    assert len(errors) == 1, result.stderr
