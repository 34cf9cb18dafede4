"""``toolbox-uploader validate`` on gzip/tar files, as a user runs it: the same verdicts and
wording as for the same content in a zip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

from tests.core import corpus
from tests.core.compressed_corpus import compress_zeros, make_tar, member, zip_bytes


def _validate(path: Path, home: Path) -> tuple[int, dict[str, Any], str]:
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(home), "COLUMNS": "200"}
    env.pop("TOOLBOX_UPLOADER_CLAMD", None)
    result = subprocess.run(
        [sys.executable, "-m", "toolbox_uploader", "validate", "--json",
         "--category", "temporary", str(path)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    (line,) = result.stdout.splitlines()
    return result.returncode, json.loads(line), result.stderr


def test_a_gzip_bomb_is_refused_like_a_zip_bomb(tmp_path: Path, app_home: Path) -> None:
    gz_code, gz, gz_err = _validate(compress_zeros(tmp_path, "bomb.gz", 32), app_home)
    zip_code, as_zip, _ = _validate(corpus.make_zip_bomb(tmp_path), app_home)
    assert gz_code == zip_code == 1
    assert [r["code"] for r in gz["reasons"]] == [r["code"] for r in as_zip["reasons"]] == [
        "archive_bomb"]
    assert "Traceback" not in gz_err


def test_a_tar_gz_gets_the_warnings_and_refusals_a_zip_gets(tmp_path: Path,
                                                            app_home: Path) -> None:
    program = b"MZ" + bytes(100)
    code, tgz, _ = _validate(make_tar(tmp_path, "tools.tar.gz", member("evil.exe", program)),
                             app_home)
    as_zip = tmp_path / "tools.zip"
    as_zip.write_bytes(zip_bytes({"evil.exe": program}))
    zip_code, from_zip, _ = _validate(as_zip, app_home)
    assert code == zip_code == 0
    assert tgz["verdict"] == from_zip["verdict"] == "accept_with_warnings"
    assert tgz["warnings"] == from_zip["warnings"]
    link = member("passwd", type=tarfile.SYMTYPE, linkname="/etc/passwd")
    code, linked, err = _validate(make_tar(tmp_path, "etc.tar.gz", link), app_home)
    assert code == 1 and linked["reasons"][0]["code"] == "archive_path_traversal"
    assert "Traceback" not in err


def test_a_cut_short_gzip_is_refused_not_a_traceback(tmp_path: Path, app_home: Path) -> None:
    path = make_tar(tmp_path, "photos.tar.gz", member("a.jpg", os.urandom(200_000)))
    path.write_bytes(path.read_bytes()[:100_000])
    code, report, err = _validate(path, app_home)
    assert code == 1 and report["reasons"][0]["code"] == "archive_damaged"
    assert "Traceback" not in err
