"""A clamd address that is no address (``ftp://x``) is said once as a usage error, from
``--clamd`` or ``$TOOLBOX_UPLOADER_CLAMD``, instead of refusing every file with
``scan_failed`` later."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from toolbox_uploader.core.validation.scanner import ClamdScanner


def _cli(*args: str, home: Path, clamd_env: str | None = None,
         ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(home)}
    env.pop("TOOLBOX_UPLOADER_CLAMD", None)
    if clamd_env is not None:
        env["TOOLBOX_UPLOADER_CLAMD"] = clamd_env
    return subprocess.run([sys.executable, "-m", "toolbox_uploader", *args], env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("address", ["ftp://x", "http://127.0.0.1:3310", "unix:"])
def test_validate_clamd_that_is_no_address_is_a_usage_error(address: str, tmp_path: Path,
                                                            app_home: Path) -> None:
    (tmp_path / "a.txt").write_text("hello\n")
    result = _cli("validate", "--clamd", address, str(tmp_path / "a.txt"), home=app_home)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("toolbox-uploader validate: error: --clamd: ")
    assert len(result.stderr.splitlines()) == 1 and "scan_failed" not in result.stdout


@pytest.mark.parametrize("command", [["validate"], ["upload"], ["serve", "--port", "0"]])
def test_a_bad_clamd_setting_is_said_at_once(command: list[str], tmp_path: Path,
                                             app_home: Path) -> None:
    (tmp_path / "a.txt").write_text("hello\n")
    paths = [] if command[0] == "serve" else [str(tmp_path / "a.txt")]
    result = _cli(*command, *paths, home=app_home, clamd_env="ftp://x")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "$TOOLBOX_UPLOADER_CLAMD: clamd address 'ftp://x'" in result.stderr
    assert "Traceback" not in result.stderr and "scan_failed" not in result.stdout


def test_addresses_that_are_fine_still_parse() -> None:
    assert ClamdScanner.from_address("tcp://clam.school:3310/").host == "clam.school"
    assert ClamdScanner.from_address("TCP:[::1]:3310").host == "::1"
    assert ClamdScanner.from_address("unix:/run/clamd.ctl").socket_path == "/run/clamd.ctl"
    assert ClamdScanner.from_address("/run/clamd.ctl").socket_path == "/run/clamd.ctl"
    with pytest.raises(ValueError):
        ClamdScanner.from_address("tcp:localhost:\uff13\uff13\uff11\uff10")  # full-width
