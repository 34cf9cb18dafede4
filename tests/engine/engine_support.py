"""Helpers shared by the engine tests: files, a polling wait, the server's file list."""

from __future__ import annotations

import hashlib
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from toolbox_uploader.core.engine import Engine
from toolbox_uploader.core.events import ItemSnapshot


def text_file(path: Path, size: int, seed: int = 0) -> Path:
    """A plain-text worksheet of ``size`` bytes (text/plain passes educational_content)."""
    rng = random.Random(seed)
    words = [b"alpha", b"beta", b"gamma", b"delta", b"lesson", b"worksheet", b"notes"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        written = 0
        while written < size:
            line = b" ".join(rng.choice(words) for _ in range(12)) + b"\n"
            line = line[: size - written]
            out.write(line)
            written += len(line)
    return path


#: Random bytes sometimes start like a program (``MZ``...) and are rightly refused; a fixed
#: first line keeps the content sniffers' verdict stable.
HEADER = b"toolbox test data\n"


def random_file(path: Path, size: int) -> Path:
    """Incompressible bytes written in 1 MiB pieces (never the whole file in memory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        out.write(HEADER[:size])
        left = size - min(size, len(HEADER))
        while left:
            piece = os.urandom(min(left, 1024 * 1024))
            out.write(piece)
            left -= len(piece)
    return path


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.02,
             describe: Callable[[], Any] | None = None) -> Any:
    """Poll ``predicate`` until it returns something truthy, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = f": {describe()}" if describe is not None else ""
            raise AssertionError(f"condition not met within {timeout} s{detail}")
        time.sleep(interval)


def item(engine: Engine, name: str) -> ItemSnapshot | None:
    for snap in engine.snapshot():
        if snap.display_name == name:
            return snap
    return None


def queued(engine: Engine, name: str) -> ItemSnapshot:
    """The row named ``name``, which must be there."""
    snap = item(engine, name)
    assert snap is not None, name
    return snap


def server_files(url: str, token: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/api/v1/files", params={"limit": 200},
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)
    response.raise_for_status()
    return list(response.json()["files"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def store_cut_off_mid_send(store_path: Path, server_url: str, path: Path, relative_path: str,
                           category: str) -> None:
    """A queue as a process killed while sending ``path`` in one request left it: the item
    validated, hashed and ``uploading``, with no upload URL known."""
    from toolbox_uploader.core.session_store import SessionStore
    from toolbox_uploader.core.states import ItemState

    store = SessionStore(store_path)
    st = path.stat()
    record = store.add(server_key=server_url, source_path=str(path), relative_path=relative_path,
                       display_name=path.name, category=category, size=st.st_size,
                       mtime=st.st_mtime)
    store.transition(record.id, ItemState.VALIDATING)
    store.transition(record.id, ItemState.READY, validated_at=1.0, sha256=sha256(path))
    store.transition(record.id, ItemState.UPLOADING)
    store.close()


def serve_subprocess(port: int, data_dir: Path) -> tuple[subprocess.Popen[str], str, str]:
    """``toolbox-uploader serve`` as its own process on ``port``: (process, url, token)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "toolbox_uploader", "serve", "--port", str(port),
         "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(
        proc.stdout.readline() for _ in range(2)), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(30)
    if len(lines) < 2 or not all(lines):
        proc.kill()
        proc.wait()
        raise AssertionError(f"the server did not start: {lines}")
    return proc, lines[0].split(" ", 1)[1].strip(), lines[1].split(" ", 1)[1].strip()


def add_server_account(data_dir: Path, name: str) -> str:
    """``user add`` next to the running server, as a school would do it; its token."""
    from toolbox_uploader.server.accounts import AccountStore
    from toolbox_uploader.server.app import DB_FILE
    from toolbox_uploader.server.db import ServerDatabase

    db = ServerDatabase(data_dir / DB_FILE)
    try:
        return AccountStore(db).create(name, None)[1]
    finally:
        db.close()
