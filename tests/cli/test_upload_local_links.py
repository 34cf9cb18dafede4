"""``upload`` to the built-in server: links it printed stay right when the server moves.

The built-in server keeps its port between runs; when that port is taken, it listens on
another, and every link of a file it stored in an earlier run is given at the new address
(as the app does), not at one where nothing answers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.engine.engine_support import text_file
from toolbox_uploader import paths
from toolbox_uploader.server.embedded import read_port


def _upload(*args: str, home: Path) -> list[dict]:
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(home)}
    done = subprocess.run([sys.executable, "-m", "toolbox_uploader", "upload", *args, "--json"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode in (0, 1), done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def _links(events: list[dict]) -> set[str]:
    found = {e["file_url"] for e in events if e["event"] == "item" and e["file_url"]}
    for key in ("problems", "gone"):
        found |= {p["file_url"] for e in events for p in e.get(key, []) if p.get("file_url")}
    return found


def test_links_follow_the_built_in_server_to_its_new_port(tmp_path: Path,
                                                           app_home: Path) -> None:
    week = tmp_path / "week"
    text_file(week / "spelling.txt", 3000, seed=1)
    first = _links(_upload(str(week), home=app_home))
    old_port = read_port(paths.local_server_port_path())
    assert old_port is not None and first
    assert all(f":{old_port}/" in link for link in first)

    text_file(week / "maths.txt", 3000, seed=2)  # something new to send, and the old file
    with socket.socket() as taken:  # another program took the port meanwhile
        taken.bind(("127.0.0.1", old_port))
        taken.listen()
        events = _upload(str(week), "--category", "educational_content", home=app_home)
    new_port = read_port(paths.local_server_port_path())
    assert new_port not in (None, old_port)
    links = _links(events)
    assert links and all(f":{new_port}/" in link for link in links), links
