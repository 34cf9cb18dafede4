"""``scripts/screenshot.py`` makes README's picture: it must run and exit cleanly.

It once wrote the PNG and then died in the interpreter's last garbage collection (a double
free: Qt objects left to be destroyed in any order), exit code 134."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

ROOT = Path(__file__).resolve().parents[2]


def test_the_screenshot_script_writes_the_picture_and_exits_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env.pop("TOOLBOX_UPLOADER_HOME", None)  # the script makes its own throw-away home
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "screenshot.py"), str(out)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1240, 700)
