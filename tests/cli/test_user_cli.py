"""``toolbox-uploader user add|list``, also while the server runs on the same data dir."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from toolbox_uploader.cli import main
from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.embedded import ServerHandle

ROOT = Path(__file__).resolve().parents[2]


def token_from(output: str) -> str:
    [line] = [x for x in output.splitlines() if x.startswith("token: ")]
    return line.split(" ", 1)[1]


def test_add_and_list_while_the_server_runs(
    live_server: ServerHandle, server_config: ServerConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(server_config.data_dir)
    # A separate process, as a school admin would run it next to the server.
    done = subprocess.run(
        [sys.executable, "-m", "toolbox_uploader", "user", "add", "Frau Müller",
         "--quota", "5M", "--data-dir", data],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    token = token_from(done.stdout)
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{live_server.url}/api/v1/quota", headers=headers).json() == {
        "used": 0, "reserved": 0, "limit": 5 * 1024 * 1024, "available": 5 * 1024 * 1024}
    r = httpx.post(f"{live_server.url}/api/v1/files/upload", headers=headers,
                   files={"file": ("a.txt", b"hello there\n")}, data={"category": "report"})
    assert r.status_code == 201, r.text

    assert main(["user", "list", "--data-dir", data]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "FILES", "USED", "/", "QUOTA", "IN", "PROGRESS"]
    rows = {line.split("  ")[0].strip(): line for line in lines[1:]}
    assert set(rows) == {"Frau Müller", "teacher"}
    assert "12 B / 5.0 MiB" in rows["Frau Müller"]
    assert "0 B / 20.0 GiB" in rows["teacher"]

    assert main(["user", "list", "--json", "--data-dir", data]) == 0
    listed = {row["name"]: row
              for row in map(json.loads, capsys.readouterr().out.splitlines())}
    assert listed["Frau Müller"] == {"name": "Frau Müller", "files": 1, "used": 12,
                                     "reserved": 0, "quota": 5 * 1024 * 1024,
                                     "available": 5 * 1024 * 1024 - 12}
    # The token is stored hashed, never as given.
    db = (server_config.data_dir / "server.sqlite3").read_bytes()
    assert token.encode() not in db


def test_duplicate_names_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path / "data")
    assert main(["user", "add", "alice", "--data-dir", data]) == 0
    first = token_from(capsys.readouterr().out)
    assert main(["user", "add", "alice", "--data-dir", data]) == 1
    err = capsys.readouterr().err
    assert "exists already" in err and "Traceback" not in err
    assert main(["user", "add", "bob", "--data-dir", data]) == 0
    assert token_from(capsys.readouterr().out) != first
    assert main(["user", "list", "--data-dir", data]) == 0
    out = capsys.readouterr().out
    assert "alice" in out and "bob" in out and "unlimited" in out


@pytest.mark.parametrize("name", ["", "  ", "x" * 65, "tab\there"],
                         ids=["empty", "spaces", "too-long", "control"])
def test_a_bad_account_name_is_a_usage_error(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    with pytest.raises(SystemExit) as info:
        main(["user", "add", name, "--data-dir", str(data)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "is not an account name (1 to 64 printable characters" in err
    assert "Traceback" not in err
    assert not data.exists()  # refused before any database is opened


def test_usage_errors_and_missing_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["user"], ["user", "add"], ["user", "add", "x", "--quota", "-1"],
                 ["user", "add", "x", "--quota", "much"], ["user", "remove", "x"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2, argv
    capsys.readouterr()
    assert main(["user", "list", "--data-dir", str(tmp_path / "nothing")]) == 1
    assert "no server data" in capsys.readouterr().err
    assert not (tmp_path / "nothing").exists()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["user", "add", "x", "--data-dir", str(blocker)]) == 1
    assert "it is a file, not a folder" in capsys.readouterr().err


def test_quota_sizes() -> None:
    from toolbox_uploader.commands.serve import parse_size

    assert parse_size("1048576") == 1048576
    assert parse_size("5M") == parse_size("5MiB") == parse_size("5mb") == 5 * 1024**2
    assert parse_size("2G") == 2 * 1024**3 and parse_size("1k") == 1024
