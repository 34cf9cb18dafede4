"""``upload --tus-endpoint`` against @tus/server set up as a school's IT might run it.

The whole product (a real ``toolbox-uploader upload`` process) against ``@tus/server``
behind a path prefix, answering with path-only ``Location``s, with a ``Tus-Max-Size``,
and losing uploads (expired) between two runs. The server's setup is passed to
``tus_node_server.mjs`` in ``TUS_NODE_OPTIONS``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.tus_node import node_available, tus_node_server

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not node_available(), reason="Node and tests/interop/node_modules needed"),
]

MB = 1_000_000


def blob(path: Path, size: int) -> Path:
    """Random-looking bytes without holding them all: a 1 MB block, varied per MB."""
    block = os.urandom(MB)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        for start in range(0, size, MB):
            handle.write((start.to_bytes(8, "big") + block[8:])[: size - start])
    return path


def digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def stored(store: Path) -> dict[str, int]:
    """sha256 → size of each upload @tus/file-store holds (one file per upload + .json)."""
    return {digest(p): p.stat().st_size for p in store.iterdir() if p.suffix != ".json"}


def upload(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "toolbox_uploader", "upload", *args,
                           "--category", "temporary", "--json"],
                          capture_output=True, text=True, timeout=timeout)


def events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def upload_until_sent(args: list[str], at_least: int, timeout: float = 60) -> None:
    """Run an upload and kill -9 it once ``at_least`` bytes of its file went out."""
    process = subprocess.Popen(
        [sys.executable, "-m", "toolbox_uploader", "upload", *args, "--category", "temporary",
         "--json"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + timeout
    try:
        assert process.stdout is not None
        for line in process.stdout:  # one JSON event a line, several a second
            event = json.loads(line)
            if event.get("event") == "item" and event.get("bytes_sent", 0) >= at_least:
                return
            assert time.monotonic() < deadline, "the upload never got that far"
        raise AssertionError("the upload ended before it was killed")
    finally:
        process.kill()
        process.wait(timeout=10)


def test_prefix_relative_location_and_max_size(
    tmp_path: Path, app_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUS_NODE_OPTIONS", json.dumps(
        {"path": "/school/tus/files", "relativeLocation": True, "maxSize": 14 * MB}))
    small = blob(tmp_path / "in" / "worksheet.bin", 3 * MB)
    chunked = blob(tmp_path / "in" / "lesson.bin", 12 * MB + 17)
    too_big = blob(tmp_path / "in" / "film.bin", 15 * MB)
    store = tmp_path / "store"
    with tus_node_server(store) as endpoint:
        assert endpoint.endswith("/school/tus/files/")
        result = upload(str(tmp_path / "in"), "--tus-endpoint", endpoint,
                        "--max-chunk-size", str(4 * 1024 * 1024))
    assert "Traceback" not in result.stderr
    assert result.returncode == 1, result.stdout[-2000:]
    summary = events(result.stdout)[-1]
    assert summary["uploaded"] == 2
    [problem] = summary["problems"]
    assert problem["relative_path"] == "in/film.bin"
    assert "15.0 MB" in problem["reason"]["message"]
    assert "at most 14.0 MB" in problem["reason"]["message"]
    # Refused before anything was sent: the server holds the two others only.
    assert stored(store) == {digest(small): 3 * MB, digest(chunked): 12 * MB + 17}
    assert too_big.exists()


def test_resume_after_a_kill_and_start_over_after_expiry(
    tmp_path: Path, app_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One resumable file (> 100 MB): killed mid-way, resumed from the server's offset;
    then killed again, its upload expired on the server (404), sent again from the start."""
    monkeypatch.setenv("TUS_NODE_OPTIONS", json.dumps({"relativeLocation": True}))
    video = blob(tmp_path / "in" / "video.bin", 110 * MB)
    store = tmp_path / "store"
    args = [str(video), "--bandwidth-limit", str(40 * MB)]
    with tus_node_server(store) as endpoint:
        upload_until_sent([*args, "--tus-endpoint", endpoint], 20 * MB)
        [partial] = [p for p in store.iterdir() if p.suffix != ".json"]
        held = partial.stat().st_size
        assert 0 < held < 110 * MB
        result = upload(str(video), "--tus-endpoint", endpoint)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        resumed = [e["resumed_from"] for e in events(result.stdout)
                   if e["event"] == "item" and e.get("resumed_from")]
        assert resumed and resumed[0] >= held - 50 * 1024 * 1024
        assert stored(store) == {digest(video): 110 * MB}

        # A second file, killed, and its upload gone from the server before the next run.
        other = blob(tmp_path / "in2" / "video2.bin", 12 * MB)
        before = {p.name for p in store.iterdir()}
        upload_until_sent([str(other), "--bandwidth-limit", str(4 * MB),
                           "--tus-endpoint", endpoint], 2 * MB)
        for path in store.iterdir():
            if path.name not in before:
                path.unlink()  # expired: @tus/server answers 404 for it now
        result = upload(str(other), "--tus-endpoint", endpoint)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert stored(store) == {digest(video): 110 * MB, digest(other): 12 * MB}
