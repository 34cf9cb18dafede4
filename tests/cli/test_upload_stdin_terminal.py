"""``upload -`` with a terminal as standard input says it is waiting for typing (and how to
end it) instead of seeming to hang; from a pipe it says nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from toolbox_uploader.server.embedded import ServerHandle

PROMPT = "reading standard input; end with Ctrl+D"


def _command(server: ServerHandle) -> list[str]:
    return [sys.executable, "-m", "toolbox_uploader", "upload", "-", "--name", "typed.txt",
            "--server", server.url, f"--token={server.token}"]


@pytest.mark.skipif(os.name == "nt", reason="no pseudo-terminals on Windows")
def test_a_terminal_is_told_how_to_end_the_input(live_server: ServerHandle,
                                                 app_home: Path) -> None:
    import pty

    master, slave = pty.openpty()
    try:
        # Typed ahead: the terminal keeps the line and the end-of-input until read.
        os.write(master, b"hello\n\x04")
        result = subprocess.run(_command(live_server), stdin=slave, capture_output=True,
                                text=True, timeout=60,
                                env={**os.environ, "TOOLBOX_UPLOADER_HOME": str(app_home)})
    finally:
        os.close(slave)
        os.close(master)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [PROMPT]
    assert "typed.txt: 6 bytes uploaded" in result.stdout


def test_a_pipe_gets_no_prompt(live_server: ServerHandle, app_home: Path) -> None:
    result = subprocess.run(_command(live_server), input="hello\n", capture_output=True,
                            text=True, timeout=60,
                            env={**os.environ, "TOOLBOX_UPLOADER_HOME": str(app_home)})
    assert result.returncode == 0, result.stderr
    assert PROMPT not in result.stderr
