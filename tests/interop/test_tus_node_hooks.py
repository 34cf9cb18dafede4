"""``upload --tus-endpoint`` against @tus/server set up with a site's own hooks and limits.

A site's ``onUploadFinish`` may answer the last PATCH with 200 and a body (@tus/server
allows it, and tus-js-client and tuspy take any 2xx); a ``Tus-Max-Size`` also binds a
stream of unknown length (``upload -``), which the client can only hold to it as it reads.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.tus_node import node_available, tus_node_server

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not node_available(), reason="Node and tests/interop/node_modules needed"),
]

MB = 1_000_000
MIB = 1024 * 1024


def data(size: int) -> bytes:
    """Bytes that no content sniffer takes for a program."""
    return bytes(8) + os.urandom(size - 8)


def stored(store: Path) -> dict[str, int]:
    """sha256 → size of each upload @tus/file-store holds (one file per upload + .json)."""
    return {hashlib.sha256(p.read_bytes()).hexdigest(): p.stat().st_size
            for p in store.iterdir() if p.suffix != ".json"}


def upload(*args: str, stdin: bytes | None = None) -> tuple[int, list[dict], str]:
    done = subprocess.run(
        [sys.executable, "-m", "toolbox_uploader", "upload", *args, "--category", "temporary",
         "--json", "--max-chunk-size", str(4 * MIB), "--give-up-after", "5"],
        input=stdin, capture_output=True, timeout=60)
    lines = done.stdout.decode().splitlines()
    return done.returncode, [json.loads(line) for line in lines if line.strip()], \
        done.stderr.decode()


def requests(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_a_finish_hook_answering_200_is_still_done(
    tmp_path: Path, app_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every file is stored whole; the 200 that says so must not read as a failure."""
    monkeypatch.setenv("TUS_NODE_OPTIONS", json.dumps({
        "finishStatus": 200, "finishBody": '{"stored": true}',
        # Without creation-with-upload every file ends with a PATCH, which the hook answers.
        "extensions": ["creation", "creation-defer-length", "termination"]}))
    files = {"worksheet.bin": data(300_000), "lesson.bin": data(5 * MB + 3)}
    for name, content in files.items():
        (tmp_path / "in").mkdir(exist_ok=True)
        (tmp_path / "in" / name).write_bytes(content)
    store = tmp_path / "store"
    with tus_node_server(store) as endpoint:
        code, events, stderr = upload(str(tmp_path / "in"), "--tus-endpoint", endpoint)
    assert "Traceback" not in stderr
    summary = events[-1]
    assert (code, summary["uploaded"], summary["problems"]) == (0, 2, []), summary
    assert stored(store) == {hashlib.sha256(c).hexdigest(): len(c) for c in files.values()}


def test_a_stream_past_the_servers_max_size_stops_before_sending_more(
    tmp_path: Path, app_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "requests.jsonl"
    monkeypatch.setenv("TUS_NODE_OPTIONS", json.dumps({"maxSize": 5 * MB, "logFile": str(log)}))
    with tus_node_server(tmp_path / "store") as endpoint:
        code, events, stderr = upload("-", "--name", "recording.bin", "--tus-endpoint",
                                      endpoint, stdin=data(9 * MB))
        assert "Traceback" not in stderr
        assert code == 1
        assert events[-1]["error"]["message"] == (
            "The upload is larger than this server accepts (at most 5.0 MB).")
        # Nothing past the limit went out, and the unfinished upload was deleted.
        sent = [int(r["headers"].get("content-length", 0)) for r in requests(log)
                if r["method"] == "PATCH"]
        assert sum(sent) <= 5 * MB
        assert [r["method"] for r in requests(log)][-1] == "DELETE"
        assert stored(tmp_path / "store") == {}

        # A stream of exactly the limit is taken.
        exact = data(5 * MB)
        code, events, _ = upload("-", "--name", "exact.bin", "--tus-endpoint", endpoint,
                                 stdin=exact)
        assert code == 0, events[-1]
        assert events[-1]["size"] == 5 * MB
    assert stored(tmp_path / "store") == {hashlib.sha256(exact).hexdigest(): 5 * MB}
