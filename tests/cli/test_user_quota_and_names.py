"""``user add`` with what a school IT person types: a huge quota is a usage error, not an
``OverflowError`` traceback; 0 and -1 ("no limit" elsewhere) are refused with a hint; names
with characters that would show garbled or reversed in ``user list`` are refused;
``queue list --state FAILED`` reads the state as ``upload`` prints it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "toolbox_uploader", *args], env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("quota", "said"), [
    ("99999999999999999999999", "is too large (at most 1024T)"),
    ("1025T", "is too large (at most 1024T)"),
    ("0", "leave --quota out for no limit"),
    ("-1", "leave --quota out for no limit"),
])
def test_quotas_that_cannot_be_are_usage_errors(quota: str, said: str, tmp_path: Path) -> None:
    result = _cli("user", "add", "teacher", f"--quota={quota}", "--data-dir", str(tmp_path),
                  home=tmp_path / "home")
    assert result.returncode == 2, result.stderr
    assert said in result.stderr and "Traceback" not in result.stderr
    listed = _cli("user", "list", "--data-dir", str(tmp_path), home=tmp_path / "home")
    assert "teacher" not in listed.stdout  # nothing was created


def test_the_largest_quota_is_taken(tmp_path: Path) -> None:
    result = _cli("user", "add", "teacher", "--quota", "1024T", "--data-dir", str(tmp_path),
                  home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    listed = _cli("user", "list", "--data-dir", str(tmp_path), home=tmp_path / "home")
    assert "1024.0 TiB" in listed.stdout


@pytest.mark.parametrize("name", ["abc\u202edef", "a\x7fb", "a\u2028b", "a\x9bb"])
def test_names_that_print_garbled_are_refused(name: str, tmp_path: Path) -> None:
    result = _cli("user", "add", name, "--data-dir", str(tmp_path), home=tmp_path / "home")
    assert result.returncode == 2, result.stdout
    assert "is not an account name" in result.stderr
    assert name not in result.stderr  # said escaped, never as it is


def test_queue_state_as_upload_prints_it(tmp_path: Path) -> None:
    result = _cli("queue", "list", "--state", "FAILED", home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert _cli("queue", "list", "--state", "bogus", home=tmp_path / "home").returncode == 2
