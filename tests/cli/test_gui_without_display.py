"""``toolbox-uploader`` (the window) where there is no display: one clear line, exit 1.

Qt aborted the process instead ("could not connect to display", exit 134, a core dump
message): on a server, in a container, over SSH without -X."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="DISPLAY and WAYLAND_DISPLAY are how Linux finds one")


@pytest.mark.parametrize("argv", [[], ["gui"]])
def test_no_display_is_said_plainly(argv: list[str], app_home: Path) -> None:
    env = {name: value for name, value in os.environ.items()
           if name not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run([sys.executable, "-m", "toolbox_uploader", *argv], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("toolbox-uploader gui: there is no display")
    assert "QT_QPA_PLATFORM=offscreen" in lines[0]
