"""A path under a folder that cannot be read: ``validate`` and ``upload`` both say so
plainly (permission denied), as a usage error, instead of "no such file" or an errno."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.engine_support import free_port


@pytest.fixture
def locked_file() -> Iterator[Path]:
    """``locked/a.txt`` with ``locked`` unreadable, in a folder any user can reach."""
    top = Path(tempfile.mkdtemp(prefix="toolbox-locked-"))
    try:
        top.chmod(0o755)
        (top / "locked").mkdir()
        (top / "locked" / "a.txt").write_text("a worksheet\n")
        (top / "locked").chmod(0)
        yield top / "locked" / "a.txt"
    finally:
        (top / "locked").chmod(0o755)
        shutil.rmtree(top, ignore_errors=True)


def _as_someone_else() -> list[str]:
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:  # root reads everything
        pytest.skip("running as root without setpriv to act as another user")
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.mark.parametrize("command", [
    ["validate"],
    ["upload", "--server", "http://127.0.0.1:{port}", "--token=abcdefghijklmnop"],
])
def test_a_path_that_cannot_be_read(command: list[str], locked_file: Path) -> None:
    args = [a.format(port=free_port()) for a in command]
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(locked_file.parent.parent / "home")}
    result = subprocess.run([*_as_someone_else(), sys.executable, "-m", "toolbox_uploader",
                             *args, str(locked_file)],
                            env=env, capture_output=True, text=True, timeout=60, cwd="/")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [
        f"toolbox-uploader {command[0]}: error: {locked_file}: cannot be read "
        "(permission denied)"]
