"""The ClamAV client against a real clamd, started here with a one-signature database.

The database holds a single body signature matching the EICAR test string, so clamd starts
in well under a second and needs no freshclam and no network.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.core import corpus
from toolbox_uploader.core.validation import (
    ClamdScanner,
    ScanError,
    Verdict,
    scanner_from_env,
    validate_file,
)

CLAMD = shutil.which("clamd") or ("/usr/sbin/clamd" if Path("/usr/sbin/clamd").exists() else None)
START_DEADLINE = 30.0


@pytest.fixture(scope="module")
def clamd() -> Iterator[ClamdScanner]:
    if CLAMD is None:
        print("clamd binary not found (install Debian's clamav-daemon); skipping ClamAV tests")
        pytest.skip("clamd binary not found (install clamav-daemon)")
    # unix socket paths are limited to ~107 bytes: keep the folder short
    folder = Path(tempfile.mkdtemp(prefix="tbu-clamd-"))
    (folder / "db").mkdir()
    (folder / "db" / "eicar.ndb").write_text(
        f"ToolBox.Test.EICAR:0:*:{corpus.EICAR.hex()}\n", encoding="ascii"
    )
    socket_path = folder / "clamd.sock"
    (folder / "clamd.conf").write_text(
        f"DatabaseDirectory {folder / 'db'}\nLocalSocket {socket_path}\nForeground yes\n"
        f"LogFile {folder / 'clamd.log'}\nStreamMaxLength 1M\n",
        encoding="ascii",
    )
    process = subprocess.Popen(
        [CLAMD, "-c", str(folder / "clamd.conf")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    scanner = ClamdScanner(socket_path=str(socket_path), timeout=10)
    deadline = time.monotonic() + START_DEADLINE
    try:
        while True:
            if process.poll() is not None:
                error = process.stderr.read().decode() if process.stderr else ""
                pytest.fail(f"clamd exited: {error}")
            if socket_path.exists():
                try:
                    if scanner.ping():
                        break
                except ScanError:
                    pass
            if time.monotonic() > deadline:
                pytest.fail("clamd did not open its socket in time")
            time.sleep(0.05)
        yield scanner
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def test_eicar_is_refused(clamd: ClamdScanner, tmp_path: Path) -> None:
    report = validate_file(corpus.make_eicar(tmp_path), "temporary", scanner=clamd)
    assert report.verdict is Verdict.REJECT
    assert [r.code for r in report.reasons] == ["virus_found"]
    assert "ToolBox.Test.EICAR" in report.reasons[0].message


def test_eicar_inside_a_longer_file_is_found(clamd: ClamdScanner, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"harmless words\n" * 20_000 + corpus.EICAR + b"\nmore\n")
    assert clamd.scan(path).infected  # crosses several INSTREAM chunks


def test_clean_files_pass(clamd: ClamdScanner, tmp_path: Path) -> None:
    for kind in ("pdf", "docx", "jpeg", "txt"):
        folder = tmp_path / kind
        folder.mkdir()
        make, category = corpus.GOOD[kind]
        assert validate_file(make(folder), category, scanner=clamd).accepted


def test_file_over_clamd_stream_limit_is_a_warning(clamd: ClamdScanner, tmp_path: Path) -> None:
    path = corpus.make_sparse(tmp_path, 3 * 1024 * 1024, "long.txt")
    report = validate_file(path, "temporary", scanner=clamd)
    assert report.accepted
    assert [w.code for w in report.warnings] == ["scan_skipped"]


def test_unreachable_scanner_holds_the_file_back(tmp_path: Path) -> None:
    scanner = ClamdScanner(socket_path=str(tmp_path / "no.sock"), timeout=2)
    report = validate_file(corpus.make_text(tmp_path), "temporary", scanner=scanner)
    assert [r.code for r in report.reasons] == ["scan_failed"]


def test_address_parsing_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ClamdScanner.from_address("unix:/run/c.sock").socket_path == "/run/c.sock"
    assert ClamdScanner.from_address("/run/c.sock").socket_path == "/run/c.sock"
    tcp = ClamdScanner.from_address("tcp:127.0.0.1:3310")
    assert (tcp.host, tcp.port) == ("127.0.0.1", 3310)
    with pytest.raises(ValueError):
        ClamdScanner.from_address("nonsense")
    monkeypatch.delenv("TOOLBOX_UPLOADER_CLAMD", raising=False)
    assert scanner_from_env() is None
    monkeypatch.setenv("TOOLBOX_UPLOADER_CLAMD", "unix:/x.sock")
    assert scanner_from_env() == ClamdScanner(socket_path="/x.sock")
