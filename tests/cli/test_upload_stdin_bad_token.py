"""``upload -`` with a token the server refuses says what to do, as ``upload PATHS`` does,
not only the server's "A valid bearer token is required."."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from toolbox_uploader.commands.upload import TOKEN_REFUSED
from toolbox_uploader.server.embedded import ServerHandle


def test_stdin_with_a_refused_token_says_how_to_pass_one(live_server: ServerHandle,
                                                         app_home: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "toolbox_uploader", "upload", "-", "--name", "notes.txt",
         "--server", live_server.url, "--token=not-the-right-token"],
        env={**os.environ, "TOOLBOX_UPLOADER_HOME": str(app_home)}, input=b"hello\n",
        capture_output=True, timeout=60)
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert TOKEN_REFUSED in err and "--token=VALUE" in err
    assert "Traceback" not in err
