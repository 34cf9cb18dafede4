"""An ``upload`` command caught mid-transfer, for tests that stop or watch it from outside."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.embedded import ServerHandle

MIB = 1024 * 1024
#: Over the one-request limit (10 MiB): sent in resumable 1 MiB PATCHes, about 6 s long.
SIZE = 11 * MIB
SLOW = ("--bandwidth-limit", "2M", "--max-chunk-size", "1M")


def env(home: Path) -> dict[str, str]:
    return {**os.environ, "TOOLBOX_UPLOADER_HOME": str(home)}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "toolbox_uploader", *args]


def upload_args(path: Path, server: ServerHandle, *extra: str) -> list[str]:
    return cli("upload", str(path), "--category", "temporary", "--server", server.url,
               f"--token={server.token}", *extra)


def start_slow_upload(path: Path, server: ServerHandle, home: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(upload_args(path, server, *SLOW),
                            env=env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


#: The exit status of a command stopped by Ctrl+C: shells show both as 130. CPython
#: itself dies by SIGINT after a KeyboardInterrupt raised inside code it ran from a string
#: (``dataclasses`` and ``namedtuple`` build methods that way), so that parents know.
INTERRUPTED = (130, -signal.SIGINT)


def recording(size: int) -> bytes:
    """Random bytes that libmagic calls data (bare random bytes may look like a program)."""
    return b"RIFF-not-really lecture recording\n" + os.urandom(size - 34)


def partials(config: ServerConfig) -> dict[str, int]:
    """Unfinished tus uploads on the server: upload id -> bytes held."""
    uploads = config.data_dir / "uploads"
    if not uploads.is_dir():
        return {}
    return {p.stem: p.stat().st_size for p in uploads.iterdir() if p.is_file()}


def partial_bytes(config: ServerConfig) -> int:
    return sum(partials(config).values())


def wait_for_partial(proc: subprocess.Popen[bytes], config: ServerConfig, at_least: int,
                     seconds: float = 30) -> None:
    """Until the server has ``at_least`` bytes of the upload on disk (bounded)."""
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds / 0.05) + 1):
        if partial_bytes(config) >= at_least:
            return
        assert proc.poll() is None, proc.communicate(timeout=10)
        assert time.monotonic() < deadline, "the upload did not get going"
        time.sleep(0.05)
    raise AssertionError("the upload did not get going")


def queue_rows(home: Path) -> list[dict[str, Any]]:
    result = subprocess.run(cli("queue", "list", "--json"), env=env(home),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]
