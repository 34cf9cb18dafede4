"""What a script meets: standard output closed from the start (``... >&-``), a standard output
that cannot encode every name (``PYTHONIOENCODING=ascii``, a Latin-1 locale), ``queue list``
into a pipe, and links that lead nowhere. Never a traceback, always the work's exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.engine.engine_support import server_files
from toolbox_uploader.server.embedded import ServerHandle

NAME = "Übung für Klasse 7 – café.txt"


def _cli(*args: str, home: Path, closed_stdout: bool = False,
         **env: str) -> subprocess.CompletedProcess[str]:
    """Run the command; ``closed_stdout``: with descriptor 1 closed, as ``>&-`` does."""
    environ = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(home), **env}
    environ.pop("COLUMNS", None)
    command = [sys.executable, "-m", "toolbox_uploader", *args]
    if closed_stdout:
        command = ["sh", "-c", 'exec "$@" >&-', "sh", *command]
    return subprocess.run(command, env=environ, capture_output=not closed_stdout,
                          stderr=subprocess.PIPE if closed_stdout else None, text=True,
                          timeout=90)


def test_upload_with_stdout_closed_from_the_start(live_server: ServerHandle, tmp_path: Path,
                                                  app_home: Path) -> None:
    """It used to end in an ``AttributeError`` traceback ('NoneType' has no 'write'),
    exit 1, from the first line it printed, with or without ``--json``."""
    for n, as_json in enumerate((False, True)):
        path = tmp_path / f"sheet{n}.txt"
        path.write_text(f"worksheet {n}\n")
        result = _cli("upload", str(path), "--server", live_server.url,
                      f"--token={live_server.token}", *(["--json"] if as_json else []),
                      home=app_home, closed_stdout=True)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    assert len(server_files(live_server.url, live_server.token)) == 2


def test_names_on_a_stdout_that_is_not_utf8(live_server: ServerHandle, tmp_path: Path,
                                            app_home: Path) -> None:
    """``upload``, ``queue list`` and ``validate`` used to stop with a UnicodeEncodeError
    traceback at the first name (or ✓) ASCII cannot hold, exit 1 after a good upload."""
    path = tmp_path / NAME
    path.write_text("worksheet\n")
    ascii_out = {"PYTHONIOENCODING": "ascii"}
    upload = _cli("upload", str(path), "--server", live_server.url,
                  f"--token={live_server.token}", home=app_home, **ascii_out)
    assert upload.returncode == 0, upload.stderr[-3000:]
    assert "OK \\xdcbung f\\xfcr Klasse 7 \\u2013 caf\\xe9.txt" in upload.stdout
    assert "1 of 1 file uploaded" in upload.stdout
    listing = _cli("queue", "list", home=app_home, **ascii_out)
    assert listing.returncode == 0, listing.stderr[-3000:]
    assert "\\xdcbung f\\xfcr Klasse 7 \\u2013 caf\\xe9.txt" in listing.stdout
    table = _cli("validate", str(path), home=app_home, **ascii_out)
    assert table.returncode == 0, table.stderr[-3000:]
    assert "1 file: 1 accepted" in table.stdout
    as_json = _cli("validate", str(path), "--json", home=app_home, **ascii_out)
    assert as_json.returncode == 0, as_json.stderr[-3000:]
    (line,) = as_json.stdout.splitlines()
    assert line.isascii() and json.loads(line)["relative_path"] == NAME  # still valid JSON
    for result in (upload, listing, table, as_json):
        assert "Traceback" not in result.stderr
    utf8 = _cli("validate", str(path), "--json", home=app_home, PYTHONIOENCODING="utf-8")
    assert f'"relative_path": "{NAME}"' in utf8.stdout  # as it is where UTF-8 is spoken


def test_queue_list_into_a_pipe_keeps_each_item_on_one_line(
        live_server: ServerHandle, tmp_path: Path, app_home: Path) -> None:
    """Into a pipe, rich cut the table at 80 columns: ``queue list | grep NAME`` found a
    fragment of the name, without its state or reason."""
    folder = tmp_path / "a rather long folder name for the lesson plans of year seven"
    folder.mkdir()
    (folder / "setup program for the interactive whiteboard.exe").write_bytes(b"MZ\x90\x00")
    (folder / "notes.txt").write_text("fine\n")
    upload = _cli("upload", str(folder), "--server", live_server.url,
                  f"--token={live_server.token}", home=app_home)
    assert upload.returncode == 1, upload.stderr[-3000:]
    listing = _cli("queue", "list", home=app_home)
    assert listing.returncode == 0, listing.stderr
    (row,) = [line for line in listing.stdout.splitlines() if "whiteboard" in line]
    assert f"{folder.name}/setup program for the interactive whiteboard.exe" in row
    assert "rejected" in row and "Files ending in .exe are programs" in row
    assert len(listing.stdout.splitlines()) == 3  # the heading and one line per item


def test_upload_says_what_is_wrong_with_a_link_to_nothing(tmp_path: Path,
                                                         app_home: Path) -> None:
    """``ls`` shows these names; "no such file or folder" alone used to puzzle."""
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    (tmp_path / "dangling").symlink_to(tmp_path / "deleted.txt")
    loop = _cli("upload", str(tmp_path / "loop1"), home=app_home)
    assert loop.returncode == 2
    assert loop.stderr.strip().endswith("loop1: a link that leads back to itself in a loop")
    dangling = _cli("upload", str(tmp_path / "dangling"), home=app_home)
    assert dangling.returncode == 2
    assert dangling.stderr.strip().endswith(
        "dangling: a link to a file or folder that does not exist")
