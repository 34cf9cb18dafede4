"""``... | head -1``: a reader that closes standard output early does not turn a good run
into a failure. The uploads go on unprinted and the exit code is the one they deserve."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine.engine_support import server_files, text_file
from toolbox_uploader import paths
from toolbox_uploader.core.session_store import NewItem, SessionStore
from toolbox_uploader.server.embedded import ServerHandle


def _piped(args: list[str], home: Path, *, read_first: bool) -> tuple[int, str]:
    """Run ``toolbox-uploader ARGS | head -1`` (or ``| true`` when not ``read_first``)."""
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "toolbox_uploader", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    try:
        if read_first:
            assert proc.stdout.readline()
        proc.stdout.close()
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, err.decode(errors="replace")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "Many"
    for n in range(25):
        text_file(folder / f"sheet{n}.txt", 2000 + n, seed=n)
    return folder


@pytest.mark.parametrize("read_first", [True, False], ids=["head-1", "closed-at-once"])
@pytest.mark.parametrize("as_json", [True, False], ids=["json", "plain"])
def test_upload_with_a_closed_stdout_still_exits_0(live_server: ServerHandle, folder: Path,
                                                   app_home: Path, as_json: bool,
                                                   read_first: bool) -> None:
    args = ["upload", str(folder), "--server", live_server.url,
            f"--token={live_server.token}", *(["--json"] if as_json else [])]
    code, err = _piped(args, app_home, read_first=read_first)
    assert code == 0, err[-3000:]
    assert "Traceback" not in err and "Exception ignored" not in err
    assert len(server_files(live_server.url, live_server.token)) == 25
    # And a run that does fail still says so.
    (folder / "setup.exe").write_bytes(b"MZ\x90\x00" + bytes(500))
    code, err = _piped(args, app_home, read_first=read_first)
    assert code == 1, err[-3000:]
    assert "Traceback" not in err and "Exception ignored" not in err


@pytest.mark.parametrize("read_first", [True, False], ids=["head-1", "closed-at-once"])
def test_queue_list_with_a_closed_stdout_exits_0(app_home: Path, read_first: bool,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from toolbox_uploader.cli import main

    store = SessionStore(paths.session_db_path())
    try:
        store.add_many([NewItem("local", f"/src/lesson{n}.pdf", f"lesson{n}.pdf",
                                f"lesson{n}.pdf", "educational_content", 10, 1.0)
                        for n in range(2000)])  # far more than a pipe holds
    finally:
        store.close()
    assert main(["queue", "list", "--json"]) == 0  # a reader that stays gets every row
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["relative_path"] for r in rows] == [f"lesson{n}.pdf" for n in range(2000)]
    code, err = _piped(["queue", "list", "--json"], app_home, read_first=read_first)
    assert code == 0, err[-3000:]
    assert "Traceback" not in err and "Exception ignored" not in err


def _many_texts(folder: Path, count: int) -> Path:
    """More files than a pipe holds lines for (about 250 bytes of JSON each)."""
    folder.mkdir(parents=True)
    for n in range(count):
        (folder / f"note{n:04}.txt").write_text(f"note {n}\n")
    return folder


@pytest.mark.parametrize("read_first", [True, False], ids=["head-1", "closed-at-once"])
@pytest.mark.parametrize("as_json", [True, False], ids=["json", "plain"])
def test_validate_with_a_closed_stdout_keeps_its_verdict(tmp_path: Path, app_home: Path,
                                                         as_json: bool, read_first: bool) -> None:
    folder = _many_texts(tmp_path / "Notes", 600)
    args = ["validate", str(folder), "--jobs", "2", *(["--json"] if as_json else [])]
    code, err = _piped(args, app_home, read_first=read_first)
    assert code == 0, err[-3000:]
    assert "Traceback" not in err and "Exception ignored" not in err
    # The files after the reader left are still checked: a refused one still fails the run.
    (folder / "zz-setup.exe").write_bytes(b"MZ\x90\x00" + bytes(500))
    code, err = _piped(args, app_home, read_first=read_first)
    assert code == 1, err[-3000:]
    assert "Traceback" not in err and "Exception ignored" not in err


def test_user_list_with_a_closed_stdout_exits_0(tmp_path: Path, app_home: Path) -> None:
    from toolbox_uploader.server.accounts import AccountStore
    from toolbox_uploader.server.app import DB_FILE
    from toolbox_uploader.server.db import ServerDatabase

    data = tmp_path / "server-data"
    data.mkdir()
    db = ServerDatabase(data / DB_FILE)
    try:
        accounts = AccountStore(db)
        for n in range(500):  # about 150 bytes of JSON each: more than a pipe holds
            accounts.create(f"teacher{n:03}", None)
    finally:
        db.close()
    for extra in (["--json"], []):
        code, err = _piped(["user", "list", "--data-dir", str(data), *extra], app_home,
                           read_first=True)
        assert code == 0, err[-3000:]
        assert "Traceback" not in err and "Exception ignored" not in err
