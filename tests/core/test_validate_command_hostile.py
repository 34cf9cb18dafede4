"""``toolbox-uploader validate --json`` on hostile files, run as a script would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.core import corpus


def test_hidden_macros_and_cut_photos_are_refused_with_their_codes(tmp_path: Path) -> None:
    folder = tmp_path / "Week 3"
    folder.mkdir()
    corpus.make_ole_document(folder, "plan.doc")
    corpus.make_ole_document(folder, "clean.doc", vba_storage=None)
    whole = corpus.make_jpeg_gps_rotated(folder, "whole.jpg")
    (folder / "cut.jpg").write_bytes(whole.read_bytes()[:-200])
    pdf = corpus.make_pdf(folder, "sheet.pdf")
    pdf.write_bytes(pdf.read_bytes() + corpus._small_zip())
    env = {**os.environ, "TOOLBOX_UPLOADER_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-m", "toolbox_uploader", "validate", "--json", "--jobs", "1",
         "--category", "student_submission", str(folder)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    verdicts = {line["relative_path"]: (line["verdict"], [r["code"] for r in line["reasons"]])
                for line in lines}
    assert verdicts == {
        "Week 3/plan.doc": ("reject", ["macro_document"]),
        "Week 3/clean.doc": ("accept", []),
        "Week 3/whole.jpg": ("accept_with_warnings", []),
        "Week 3/cut.jpg": ("reject", ["image_damaged"]),
        "Week 3/sheet.pdf": ("reject", ["hidden_archive"]),
    }
