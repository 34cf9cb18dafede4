"""``toolbox-uploader upload`` as a real process: exit codes, JSON events, resume, stdin."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.engine.engine_support import random_file, server_files, sha256, text_file
from tests.support.tus_node import node_available, tus_node_server
from toolbox_uploader.cli import main
from toolbox_uploader.core.session_store import SessionStore
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import ServerHandle


def _run(*args: str, home: Path, stdin: bytes | None = None,
         timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "toolbox_uploader", "upload", *args],
                          env=env, input=stdin.decode("latin-1") if stdin else None,
                          capture_output=True, text=True, timeout=timeout)


def _events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_uploads_to_a_server_and_reports_problems(live_server: ServerHandle, tmp_path: Path,
                                                   app_home: Path) -> None:
    folder = tmp_path / "Biology"
    good = [text_file(folder / f"cell{n}.txt", 5000 + n, seed=n) for n in range(3)]
    (folder / "setup.exe").write_bytes(b"MZ\x90\x00" + bytes(500))
    result = _run(str(folder), "--server", live_server.url, f"--token={live_server.token}",
                  "--json", home=app_home)
    assert result.returncode == 1, result.stderr
    events = _events(result.stdout)
    summary = events[-1]
    assert summary["event"] == "summary" and summary["uploaded"] == 3
    assert [p["relative_path"] for p in summary["problems"]] == ["Biology/setup.exe"]
    assert summary["problems"][0]["reason"]["code"]
    assert any(e["event"] == "batch" for e in events)
    assert {e["state"] for e in events if e["event"] == "item"} >= {"done", "rejected"}
    stored = {f["relative_path"]: f["sha256"] for f in server_files(live_server.url,
                                                                      live_server.token)}
    assert stored == {f"Biology/{p.name}": sha256(p) for p in good}
    # The token never lands in the session store.
    assert live_server.token.encode() not in (app_home / "data" / "sessions.sqlite3").read_bytes()


def test_all_good_exits_0_and_a_rerun_sends_nothing(live_server: ServerHandle, tmp_path: Path,
                                                    app_home: Path) -> None:
    path = text_file(tmp_path / "plan.txt", 4000)
    args = (str(path), "--server", live_server.url, f"--token={live_server.token}")
    first = _run(*args, home=app_home)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "1 of 1 file uploaded" in first.stdout
    again = _run(*args, home=app_home)
    assert again.returncode == 0
    assert len(server_files(live_server.url, live_server.token)) == 1


def test_without_a_server_the_embedded_one_is_used(tmp_path: Path, app_home: Path) -> None:
    path = text_file(tmp_path / "local.txt", 3000)
    result = _run(str(path), "--json", home=app_home)
    assert result.returncode == 0, result.stderr
    assert _events(result.stdout)[-1]["uploaded"] == 1
    stored = list((app_home / "data" / "server").rglob("*"))
    assert stored, "the embedded server keeps its files under the app's data folder"
    store = SessionStore(app_home / "data" / "sessions.sqlite3")
    try:
        assert [r.server_key for r in store.items()] == ["local"]
    finally:
        store.close()


@pytest.mark.parametrize("args", [
    ["does-not-exist.txt"],
    ["--category", "nonsense", "."],
    ["--server", "ftp://x", "."],
    ["--server", "http://a", "--tus-endpoint", "http://b", "."],
    ["--concurrency", "0", "."],
    ["-", "extra.txt"],
    ["--server", "http://[::1", "."],
    ["--server", "http://127.0.0.1:99999", "."],
    ["--server", "http://:8080", "."],
])
def test_usage_errors_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc_info:
        code = main(["upload", *args])
        raise SystemExit(code)
    assert exc_info.value.code == 2
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err


@pytest.mark.slow
def test_sigint_exits_130_and_the_rerun_resumes(live_server: ServerHandle, tmp_path: Path,
                                                app_home: Path) -> None:
    path = random_file(tmp_path / "talk.bin", 24 * 1024 * 1024)
    args = [sys.executable, "-m", "toolbox_uploader", "upload", str(path), "--server",
            live_server.url, f"--token={live_server.token}", "--category", "temporary",
            "--json", "--bandwidth-limit", "8M", "--max-chunk-size", "2M"]
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(app_home)}
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    for line in proc.stdout:  # bounded by the deadline and the process's end
        event = json.loads(line)
        if event["event"] == "item" and event["bytes_sent"] > 5 * 1024 * 1024:
            break
        assert time.monotonic() < deadline
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    store = SessionStore(app_home / "data" / "sessions.sqlite3")
    try:
        (record,) = store.items()
        assert record.state is ItemState.READY and record.upload_path  # resumable
    finally:
        store.close()
    rerun = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    sent = [e["bytes_sent"] for e in _events(rerun.stdout)
            if e["event"] == "item" and e["state"] == "uploading"]
    assert sent and min(sent) >= 4 * 1024 * 1024  # continued, not from zero
    assert [f["sha256"] for f in server_files(live_server.url, live_server.token)] == [
        sha256(path)]


def test_sigint_with_json_still_ends_with_a_summary(live_server: ServerHandle, tmp_path: Path,
                                                   app_home: Path) -> None:
    path = random_file(tmp_path / "assembly.bin", 4 * 1024 * 1024)
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(app_home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "toolbox_uploader", "upload", str(path), "--server",
         live_server.url, f"--token={live_server.token}", "--category", "temporary",
         "--bandwidth-limit", "256K", "--json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        for line in proc.stdout:  # bounded by the deadline and the process's end
            event = json.loads(line)
            if event["event"] == "item" and event["state"] == "uploading":
                break
            assert time.monotonic() < deadline, "the upload never got going"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    summary = _events(out)[-1]
    assert summary["event"] == "summary" and summary["interrupted"] is True
    assert summary["exit_code"] == 130 and summary["gave_up"] is False
    assert summary["uploaded"] == 0
    assert [(p["relative_path"], p["state"]) for p in summary["problems"]] == [
        ("assembly.bin", "ready")]  # resumable
    assert "interrupted: run the same command again to resume" in err


def test_stdin_is_a_streaming_upload(live_server: ServerHandle, app_home: Path) -> None:
    data = b"recorded lesson\n" + os.urandom(3 * 1024 * 1024 + 123)
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(app_home)}
    result = subprocess.run(
        [sys.executable, "-m", "toolbox_uploader", "upload", "-", "--name", "recording.bin",
         "--category", "temporary", "--server", live_server.url,
         f"--token={live_server.token}", "--json"],
        env=env, input=data, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.decode().splitlines()[-1])
    assert summary["size"] == len(data)
    import hashlib

    (stored,) = server_files(live_server.url, live_server.token)
    assert stored["sha256"] == hashlib.sha256(data).hexdigest() == summary["sha256"]
    assert stored["filename"] == "recording.bin"
    # The link is the file's, as for a file upload, not the tus upload's.
    assert summary["url"] == f"{live_server.url}/api/v1/files/{stored['id']}"


def test_a_second_upload_command_on_the_same_queue_is_refused(
        live_server: ServerHandle, tmp_path: Path, app_home: Path) -> None:
    from toolbox_uploader.core.lock import StoreLock

    path = text_file(tmp_path / "x.txt", 3000)
    with StoreLock(app_home / "data" / "sessions.sqlite3"):
        result = _run(str(path), "--server", live_server.url, f"--token={live_server.token}",
                      home=app_home)
    assert result.returncode == 1
    assert "Another ToolBox Uploader" in result.stderr and "Traceback" not in result.stderr


def test_a_refused_token_ends_with_a_sign_in_hint(live_server: ServerHandle, tmp_path: Path,
                                                  app_home: Path) -> None:
    files = [text_file(tmp_path / "in" / f"n{n}.txt", 3000, seed=n) for n in range(5)]
    result = _run(str(files[0].parent), "--server", live_server.url,
                  "--token=not-the-right-token-123", home=app_home, timeout=60)
    assert result.returncode == 1
    assert "--token" in result.stderr and "Traceback" not in result.stderr
    assert "sign in" in result.stdout.lower()
    assert server_files(live_server.url, live_server.token) == []


@pytest.mark.interop
@pytest.mark.skipif(not node_available(), reason="node and tests/interop/node_modules needed")
def test_tus_endpoint_targets_any_tus_server(tmp_path: Path, app_home: Path) -> None:
    path = text_file(tmp_path / "in" / "minutes.txt", 30_000)
    store = tmp_path / "tus-node"
    with tus_node_server(store) as endpoint:
        result = _run(str(path), "--tus-endpoint", endpoint, "--json", home=app_home)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    uploaded = [p for p in store.iterdir() if p.suffix != ".json"]
    assert [sha256(p) for p in uploaded] == [sha256(path)]


def test_a_name_that_is_not_text_is_refused_alone(live_server: ServerHandle, tmp_path: Path,
                                                  app_home: Path) -> None:
    folder = tmp_path / "Old stick"
    good = text_file(folder / "good.txt", 3000)
    odd = Path(os.fsdecode(bytes(folder) + b"/caf\xe9.txt"))  # Latin-1 bytes, not UTF-8
    odd.write_bytes(b"menu\n")
    other = text_file(tmp_path / "notes.txt", 2000, seed=2)
    result = _run(str(folder), str(other), "--server", live_server.url,
                  f"--token={live_server.token}", "--json", home=app_home)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    summary = _events(result.stdout)[-1]
    assert summary["uploaded"] == 2
    assert [(p["relative_path"], p["reason"]["code"]) for p in summary["problems"]] == [
        ("Old stick/caf\\xe9.txt", "name_not_text")]
    stored = {f["relative_path"] for f in server_files(live_server.url, live_server.token)}
    assert stored == {f"Old stick/{good.name}", other.name}


def test_a_damaged_store_or_home_is_one_line_and_exit_1(tmp_path: Path, app_home: Path) -> None:
    path = text_file(tmp_path / "plan.txt", 1000)
    store = app_home / "data" / "sessions.sqlite3"
    store.parent.mkdir(parents=True, exist_ok=True)
    junk = bytes(range(256)) * 20
    store.write_bytes(junk)
    result = _run(str(path), home=app_home)
    assert result.returncode == 1
    assert "cannot be read as a database" in result.stderr and "Traceback" not in result.stderr
    assert store.read_bytes() == junk  # left as it was, for whoever wants to look at it
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    result = _run(str(path), home=blocked / "home")
    assert result.returncode == 1
    assert "Not a directory" in result.stderr and "Traceback" not in result.stderr


def test_a_reader_that_goes_away_ends_the_json_quietly(live_server: ServerHandle,
                                                      tmp_path: Path, app_home: Path) -> None:
    folder = tmp_path / "Many"
    for n in range(20):
        text_file(folder / f"sheet{n}.txt", 2000 + n, seed=n)
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(app_home)}
    upload = subprocess.Popen(
        [sys.executable, "-m", "toolbox_uploader", "upload", str(folder), "--json",
         "--server", live_server.url, f"--token={live_server.token}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert upload.stdout is not None and upload.stderr is not None
    assert upload.stdout.readline()  # like ``| head -1``
    upload.stdout.close()
    try:
        upload.wait(timeout=60)
    finally:
        upload.kill()
    assert "Traceback" not in upload.stderr.read()
    assert len(server_files(live_server.url, live_server.token)) == 20


def test_json_counts_only_this_commands_files_once_each(live_server: ServerHandle,
                                                        tmp_path: Path, app_home: Path) -> None:
    server = ("--server", live_server.url, f"--token={live_server.token}", "--json")
    other = text_file(tmp_path / "other" / "old.txt", 3000, seed=1)
    assert _run(str(other), *server, home=app_home).returncode == 0
    plan = tmp_path / "plan.txt"
    plan.write_text("version one\n")
    assert _run(str(plan), *server, home=app_home).returncode == 0
    plan.write_text("version two, a little longer\n")  # edited: queued again as a new item
    result = _run(str(plan), *server, home=app_home)
    assert result.returncode == 0, result.stderr
    events = _events(result.stdout)
    assert events[-1]["uploaded"] == 1
    batches = [e for e in events if e["event"] == "batch"]
    assert batches and all(b["files_total"] == 1 for b in batches)
    assert batches[-1]["bytes_total"] == plan.stat().st_size
    order = ["queued", "validating", "optimizing", "ready", "uploading", "verifying", "done"]
    for item_id in {e["id"] for e in events if e["event"] == "item"}:
        states = [e["state"] for e in events if e["event"] == "item" and e["id"] == item_id]
        ranks = [order.index(s) for s in states if s in order]
        assert ranks == sorted(ranks), (item_id, states)  # no step back to "queued"
