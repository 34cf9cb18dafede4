"""A queue file that cannot be read: every command says so in one line and exits 1, and
the file is left exactly as it was (never deleted or rewritten)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from toolbox_uploader.core.session_store import NewItem, SessionStore

COMMANDS = (["queue", "list"], ["queue", "list", "--json"], ["queue", "retry"],
            ["queue", "clear", "--all"])


def _cli(*args: str, home: Path, user: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(home)}
    become = [] if user is None else ["setpriv", f"--reuid={user}", f"--regid={user}",
                                      "--clear-groups"]
    return subprocess.run([*become, sys.executable, "-m", "toolbox_uploader", *args],
                          env=env, capture_output=True, text=True, timeout=60)


def _queue(db: Path, count: int) -> None:
    store = SessionStore(db)
    try:
        store.add_many([NewItem("local", f"/src/s{n}.txt", f"s{n}.txt", f"s{n}.txt",
                                "educational_content", 9, 1.0) for n in range(count)])
    finally:
        store.close()  # the last connection checkpoints: everything is in the main file


def _assert_one_line_for_every_command(home: Path, db: Path, sample: Path,
                                       reason: str) -> None:
    before = db.read_bytes() if db.is_file() else None
    for command in [*COMMANDS, ["upload", str(sample)]]:
        result = _cli(*command, home=home)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr, (command, result.stderr)
        lines = [line for line in result.stderr.splitlines() if str(db) in line]
        assert len(lines) == 1, (command, result.stderr)
        assert "damaged or unreadable" in lines[0] and reason in lines[0], lines[0]
        assert "move it aside" in lines[0]
        if before is not None:
            assert db.read_bytes() == before, command  # never rewritten


def test_a_row_in_an_unknown_state(app_home: Path, tmp_path: Path) -> None:
    db = app_home / "data" / "sessions.sqlite3"
    _queue(db, 2)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE items SET state = 'archived' WHERE id = 1")
    conn.close()
    sample = tmp_path / "a.txt"
    sample.write_text("a worksheet\n")
    _assert_one_line_for_every_command(app_home, db, sample, "'archived'")


def test_damaged_pages(app_home: Path, tmp_path: Path) -> None:
    db = app_home / "data" / "sessions.sqlite3"
    _queue(db, 300)
    fd = os.open(db, os.O_RDWR)
    try:
        for offset in range(8192, os.fstat(fd).st_size, 4096):  # every page's header
            os.pwrite(fd, b"\xff" * 16, offset)
    finally:
        os.close(fd)
    sample = tmp_path / "a.txt"
    sample.write_text("a worksheet\n")
    _assert_one_line_for_every_command(app_home, db, sample, "malformed")


def test_a_folder_in_place_of_the_queue_file(app_home: Path, tmp_path: Path) -> None:
    db = app_home / "data" / "sessions.sqlite3"
    db.mkdir(parents=True)
    sample = tmp_path / "a.txt"
    sample.write_text("a worksheet\n")
    _assert_one_line_for_every_command(app_home, db, sample, "unable to open")
    assert db.is_dir() and not any(db.iterdir())


@pytest.fixture
def shared_home() -> Iterator[Path]:
    """A home another user can reach (pytest's tmp_path is private to its owner)."""
    home = Path(tempfile.mkdtemp(prefix="toolbox-ro-"))
    try:
        home.chmod(0o755)
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_a_read_only_queue_can_be_listed_not_changed(shared_home: Path) -> None:
    db = shared_home / "data" / "sessions.sqlite3"
    _queue(db, 2)
    user = None
    if os.geteuid() == 0:  # root writes read-only files: act as nobody
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv to act as another user")
        user = 65534
        for path in (shared_home, db.parent, db):
            os.chown(path, user, user)
    db.chmod(0o444)
    before = db.read_bytes()
    listing = _cli("queue", "list", "--json", home=shared_home, user=user)
    assert listing.returncode == 0, listing.stderr
    assert len(listing.stdout.splitlines()) == 2
    clear = _cli("queue", "clear", "--all", home=shared_home, user=user)
    assert clear.returncode == 1
    assert "Traceback" not in clear.stderr
    assert f"{db} could not be changed (attempt to write a readonly database)" in clear.stderr
    assert db.read_bytes() == before

    # One that would need a newer schema cannot even be opened, but it is not damaged:
    # no advice to move a good queue aside.
    db.chmod(0o644)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE schema_version SET version = version - 1")
    db.chmod(0o444)
    old = _cli("queue", "list", home=shared_home, user=user)
    assert old.returncode == 1 and "Traceback" not in old.stderr, old.stderr
    assert f"{db} cannot be opened for writing (" in old.stderr
    assert "damaged" not in old.stderr and "move it aside" not in old.stderr


def test_upload_into_a_read_only_queue_says_nothing_was_queued(shared_home: Path) -> None:
    """Not "0 of 0 files uploaded" and exit 0: the files were never even queued."""
    db = shared_home / "data" / "sessions.sqlite3"
    _queue(db, 0)
    sheet = shared_home / "sheet.txt"
    sheet.write_text("Fractions: 1/2 + 1/4 = ?\n")
    user = None
    if os.geteuid() == 0:  # root writes read-only files: act as nobody
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv to act as another user")
        user = 65534
        for path in (shared_home, db.parent, db, sheet):
            os.chown(path, user, user)
    db.chmod(0o444)
    result = _cli("upload", str(sheet), "--server", "http://127.0.0.1:9", "--token",
                  "abcdefghijklmnop", "--give-up-after", "5", home=shared_home, user=user)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert f"nothing could be queued: the upload queue file {db} cannot be written" in \
        result.stderr
