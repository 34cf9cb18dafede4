"""``upload`` options that are usage errors: exit 2, one line that says what is wrong.

The paths given do not exist and standard input is empty, so a check that let a bad
option through ends quickly (with another message) instead of uploading anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine.engine_support import free_port
from toolbox_uploader.cli import main

MISSING = "no-such-file.txt"


def _usage_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    try:
        code = main(["upload", *args])
    except SystemExit as exc:  # argparse's own checks
        code = exc.code  # type: ignore[assignment]
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(("args", "message"), [
    (["--category", ""], "upload: error: --category: unknown category ''"),
    (["--category="], "upload: error: --category: unknown category ''"),
    (["--max-chunk-size", "10"],
     "upload: error: --max-chunk-size must be at least 1M (1048576 bytes), not 10"),
    (["--max-chunk-size", "1023K"], "--max-chunk-size must be at least 1M"),
    (["--server", "http://127.0.0.1:99999"],
     "upload: error: --server 'http://127.0.0.1:99999': the port must be 1-65535"),
    (["--server", "http://127.0.0.1:0"], "the port must be 1-65535"),
    (["--tus-endpoint", "http://127.0.0.1:65536/files/"],
     "--tus-endpoint 'http://127.0.0.1:65536/files/': the port must be 1-65535"),
    (["--server", "http://example.org:http"], "the port must be 1-65535"),
    (["--give-up-after", "-1"], "--give-up-after: '-1' is not a number of seconds"),
    (["--give-up-after", "soon"], "--give-up-after: 'soon' is not a number of seconds"),
])
def test_bad_options_are_usage_errors(args: list[str], message: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    err = _usage_error([*args, MISSING], capsys)
    assert message in err
    if "argument" in err:  # argparse's own: its usage text, then the one error line
        assert len([line for line in err.splitlines() if "error" in line]) == 1
    else:
        assert err.strip().splitlines() == [err.strip()]


@pytest.mark.parametrize(("name", "message"), [
    ("../../etc/passwd", "upload: error: --name '../../etc/passwd' points outside the "
                         "upload folder (names with '..' or an absolute path are refused)"),
    ("lessons/../../x.txt", "points outside the upload folder"),
    ("..\\x.txt", "points outside the upload folder"),
    ("/etc/passwd", "points outside the upload folder"),
    ("\\\\server\\share\\x.txt", "points outside the upload folder"),
    ("C:\\Users\\x.txt", "points outside the upload folder"),
    ("", "upload: error: --name needs a file name, not ''"),
    ("   ", "--name needs a file name"),
    ("lessons/", "--name needs a file name"),
])
def test_bad_stdin_names_are_usage_errors(name: str, message: str, app_home: Path) -> None:
    # As a process with an empty standard input, aimed at a port where nothing listens:
    # whatever happens, nothing is stored and it ends at once.
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(app_home)}
    result = subprocess.run(
        [sys.executable, "-m", "toolbox_uploader", "upload", "-", "--name", name, "--server",
         f"http://127.0.0.1:{free_port()}", "--token=abcdefghijklmnop"],
        env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_good_stdin_names_pass_the_checks(capsys: pytest.CaptureFixture[str]) -> None:
    from toolbox_uploader.commands.upload import _stdin_name

    assert _stdin_name(None) == "stdin.bin"
    assert _stdin_name("recording.bin") == "recording.bin"
    assert _stdin_name("Week 3/recording..final.bin") == "Week 3/recording..final.bin"
