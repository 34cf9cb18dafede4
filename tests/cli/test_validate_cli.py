"""``toolbox-uploader validate`` as a user runs it: a real subprocess, table and JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.core import corpus


def _run(*args: str | Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(home), "COLUMNS": "200"}
    env.pop("TOOLBOX_UPLOADER_CLAMD", None)
    return subprocess.run(
        [sys.executable, "-m", "toolbox_uploader", "validate", *map(str, args)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )


def _good_folder(tmp_path: Path) -> Path:
    root = tmp_path / "Week 1"
    root.mkdir()
    corpus.make_pdf(root)
    corpus.make_ooxml(root, "docx", "plan.docx")
    corpus.make_text(root)
    (root / ".DS_Store").write_bytes(b"junk")
    return root


def test_table_and_exit_0_when_all_accepted(tmp_path: Path, app_home: Path) -> None:
    result = _run(_good_folder(tmp_path), home=app_home)
    assert result.returncode == 0, result.stderr
    assert "Week 1/worksheet.pdf" in result.stdout
    assert "Word (DOCX)" in result.stdout
    assert "3 files: 3 accepted (0 with warnings), 0 refused" in result.stdout
    assert ".DS_Store" not in result.stdout
    assert "Traceback" not in result.stderr


def test_json_lines_and_exit_1_when_something_is_refused(tmp_path: Path, app_home: Path) -> None:
    root = _good_folder(tmp_path)
    corpus.make_elf(root, "report.pdf")
    corpus.make_jpeg_gps_rotated(root)
    result = _run(root, "--json", "--category", "educational_content", home=app_home)
    assert result.returncode == 1, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 5
    by_rel = {line["relative_path"]: line for line in lines}
    elf = by_rel["Week 1/report.pdf"]
    assert elf["verdict"] == "reject"
    assert elf["reasons"][0]["code"] == "executable_content" and elf["reasons"][0]["message"]
    photo = by_rel["Week 1/class photo.jpg"]
    assert photo["verdict"] == "accept_with_warnings"
    assert [w["code"] for w in photo["warnings"]] == ["location_data"]
    assert photo["warnings"][0]["message"]
    for line in lines:
        assert {"path", "relative_path", "verdict", "mime_type", "size", "reasons",
                "warnings"} <= line.keys()
        assert "optimization" not in line


def test_optimize_reports_savings(tmp_path: Path, app_home: Path) -> None:
    source = tmp_path / "big.jpg"
    corpus.photo(3000, 2000).save(source, "JPEG", quality=95, exif=corpus.gps_exif(6))
    result = _run(source, "--optimize", "--json", "-c", "media_resource", home=app_home)
    assert result.returncode == 0, result.stderr
    (line,) = (json.loads(x) for x in result.stdout.splitlines())
    optimization = line["optimization"]
    assert optimization["new_size"] < optimization["original_size"]
    assert "rotated upright" in optimization["actions"]
    assert Path(optimization["output"]).is_relative_to(app_home)
    table = _run(source, "--optimize", "-c", "media_resource", home=app_home)
    assert "optimization saved" in table.stdout and "%)" in table.stdout


def test_usage_errors_exit_2(tmp_path: Path, app_home: Path) -> None:
    unknown = _run(tmp_path, "--category", "homework", home=app_home)
    assert unknown.returncode == 2
    assert "unknown category 'homework'" in unknown.stderr
    missing = _run(tmp_path / "nope.pdf", home=app_home)
    assert missing.returncode == 2
    assert "no such file or folder" in missing.stderr
    bad_clamd = _run(tmp_path, "--clamd", "nonsense", home=app_home)
    assert bad_clamd.returncode == 2 and "clamd address" in bad_clamd.stderr
    bad_port = _run(tmp_path, "--clamd", "tcp:127.0.0.1:99999", home=app_home)
    assert bad_port.returncode == 2 and "port must be 1 to 65535" in bad_port.stderr
    too_many = _run(tmp_path, "--jobs", "62", home=app_home)
    assert too_many.returncode == 2 and "between 1 and 61" in too_many.stderr
    for result in (unknown, missing, bad_clamd, bad_port, too_many):
        assert "Traceback" not in result.stderr


def test_a_name_that_is_not_text_is_refused_not_a_traceback(tmp_path: Path,
                                                            app_home: Path) -> None:
    root = _good_folder(tmp_path)
    odd = Path(os.fsdecode(bytes(root) + b"/r\xe9sum\xe9.txt"))
    odd.write_bytes(b"notes\n")
    for extra in ([], ["--json"]):
        result = _run(root, *extra, home=app_home)
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    refused = [r for r in rows if r["verdict"] == "reject"]
    assert [(r["relative_path"], r["reasons"][0]["code"]) for r in refused] == [
        ("Week 1/r\\xe9sum\\xe9.txt", "name_not_text")]
    assert len(rows) == 4  # the other files were checked too
