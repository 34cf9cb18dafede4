"""``upload -`` to a tus server without creation-defer-length (@tus/server offering only
some extensions): the input is spooled anyway, so it is sent once it has ended, with its
length, and the command says once on stderr that it waits for the end of the input."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.tus_node import node_available, tus_node_server
from toolbox_uploader.core.stream_upload import WAITING_FOR_END

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not node_available(), reason="Node and tests/interop/node_modules needed"),
]

MIB = 1024 * 1024


def test_stdin_goes_with_its_length_to_a_server_without_defer_length(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "requests.jsonl"
    monkeypatch.setenv("TUS_NODE_OPTIONS", json.dumps({
        "extensions": ["creation", "creation-with-upload", "termination", "expiration"],
        "logFile": str(log)}))
    data = os.urandom(3 * MIB + 5)
    files = tmp_path / "store"
    with tus_node_server(files) as endpoint:
        result = subprocess.run(
            [sys.executable, "-m", "toolbox_uploader", "upload", "-", "--name", "rec.bin",
             "--tus-endpoint", endpoint, "--category", "temporary", "--json",
             "--max-chunk-size", str(MIB)],
            input=data, capture_output=True, timeout=30)
    stderr = result.stderr.decode()
    assert result.returncode == 0, stderr + result.stdout.decode()[-2000:]
    assert stderr.count(WAITING_FOR_END) == 1
    assert "Traceback" not in stderr
    summary = json.loads(result.stdout.decode().splitlines()[-1])
    assert summary["size"] == len(data)
    assert summary["sha256"] == hashlib.sha256(data).hexdigest()
    requests = [json.loads(line) for line in log.read_text().splitlines()]
    (creation,) = [r for r in requests if r["method"] == "POST"]
    assert creation["headers"]["upload-length"] == str(len(data))
    assert "upload-defer-length" not in creation["headers"]
    (stored,) = [p for p in files.iterdir() if p.suffix != ".json"]
    assert stored.read_bytes() == data
