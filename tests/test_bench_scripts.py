"""The benchmark scripts still run: each at a tiny size, checked for its figures' lines.

Benchmarks are not tests and nothing here looks at a number; this only keeps ``bench/``
from rotting as the code it drives changes (the README's figures come from these scripts).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.tus_node import node_available

ROOT = Path(__file__).resolve().parents[1]

CASES = [
    pytest.param(
        ["many_files.py", "--files", "10"],
        ["engine (validate + upload", "tuspy (upload only", "ceiling, bare client",
         "CPU ms per file"],
        id="many_files",
    ),
    pytest.param(
        ["upload_throughput.py", "--size-mib", "4", "--js-chunk-mib", "1"],
        ["ratio ours/tuspy", "ratio ours/tus-js", "peak RSS", "CPU seconds per GiB"],
        id="upload_throughput",
        marks=pytest.mark.skipif(not node_available(),
                                 reason="node and tests/interop/node_modules needed"),
    ),
    pytest.param(
        ["server_throughput.py", "--size-mib", "8", "--rounds", "1"],
        ["SHA-256 alone", "ratio ours/raw"],
        id="server_throughput",
    ),
    pytest.param(
        ["validate_throughput.py", "--files", "20", "--photos", "2", "--baseline-photos", "1"],
        ["validate:", "optimize:", "0 refused (expected 0)"],
        id="validate_throughput",
    ),
    pytest.param(
        ["gui_responsiveness.py", "--files", "50", "--upload", "10", "--timeout", "60"],
        ["uploaded: 10 done of 10", "peak RSS", "goals:"],
        id="gui_responsiveness",
    ),
]


@pytest.mark.parametrize(("command", "expected"), CASES)
def test_bench_script_runs(command: list[str], expected: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / command[0]), *command[1:]],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for line in expected:
        assert line in result.stdout, f"{line!r} missing from:\n{result.stdout}"
    assert "Traceback" not in result.stderr
