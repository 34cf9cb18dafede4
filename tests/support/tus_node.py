"""Start the independent Node tus server (``tests/interop/tus_node_server.mjs``) on loopback."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

INTEROP_DIR = Path(__file__).resolve().parents[1] / "interop"
SERVER_SCRIPT = INTEROP_DIR / "tus_node_server.mjs"


def node_available() -> bool:
    return shutil.which("node") is not None and (INTEROP_DIR / "node_modules" / "@tus").is_dir()


@contextmanager
def tus_node_server(directory: Path, timeout: float = 20.0) -> Iterator[str]:
    """Yield the tus endpoint URL of a fresh ``@tus/server`` storing into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        ["node", str(SERVER_SCRIPT), str(directory), "0"],
        cwd=INTEROP_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        # readline blocks until the server prints its address; a dead server gives "".
        line = process.stdout.readline()
        if not line:
            stderr = process.stderr.read() if process.stderr else ""
            raise RuntimeError(f"@tus/server did not start: {stderr.strip()}")
        yield json.loads(line)["url"]
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)
