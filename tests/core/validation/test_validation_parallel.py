"""``validate_many``: every file once, on a real process pool, results streamed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.core import corpus
from toolbox_uploader.core.categories import UnknownCategoryError
from toolbox_uploader.core.optimize import OptimizeSettings
from toolbox_uploader.core.parallel import validate_many
from toolbox_uploader.core.validation import Verdict
from toolbox_uploader.core.walk import walk_paths


def _folder(tmp_path: Path) -> Path:
    root = tmp_path / "Unit 5"
    root.mkdir()
    for kind, (make, _) in corpus.GOOD.items():
        folder = root / kind
        folder.mkdir()
        make(folder)
    bad = root / "bad"
    bad.mkdir()
    corpus.make_elf(bad)
    corpus.make_html_script(bad)
    (bad / "dangling.pdf").symlink_to(tmp_path / "nowhere")
    return root


def test_pool_reports_every_file_once(tmp_path: Path) -> None:
    root = _folder(tmp_path)
    results = list(validate_many(walk_paths([root]), "temporary", workers=2))
    by_path = {entry.relative_path: report for entry, report, _ in results}
    assert len(by_path) == len(results) == len(corpus.GOOD) + 3
    assert by_path["Unit 5/bad/report.pdf"].reasons[0].code == "executable_content"
    assert by_path["Unit 5/bad/dangling.pdf"].reasons[0].code == "broken_link"
    assert by_path["Unit 5/bad/game.html"].verdict is Verdict.WARN  # scripts ok in scratch
    good = [r for rel, r in by_path.items() if "/bad/" not in rel]
    assert all(r.accepted for r in good)


def test_pool_optimizes_accepted_images(tmp_path: Path) -> None:
    root = tmp_path / "Photos"
    root.mkdir()
    for i in range(5):
        corpus.make_jpeg_gps_rotated(root, f"p{i}.jpg")
    corpus.make_text(root)
    out = tmp_path / "cache"
    results = list(validate_many(walk_paths([root]), "temporary",
                                 optimize=OptimizeSettings(), out_dir=out, workers=2))
    optimized = [o for _, _, o in results if o is not None]
    assert len(optimized) == 5
    assert all(o.output.parent == out for o in optimized)


def test_inline_for_a_few_files_and_early_close(tmp_path: Path) -> None:
    path = corpus.make_pdf(tmp_path)
    ((entry, report, optimization),) = validate_many(walk_paths([path]), "report")
    assert report.accepted and optimization is None and entry.relative_path == "worksheet.pdf"
    (tmp_path / "again").mkdir()
    root = _folder(tmp_path / "again")
    stream = validate_many(walk_paths([root]), "temporary", workers=2, max_in_flight=1)
    next(stream)
    stream.close()  # shuts the pool down without waiting for the rest


def test_bad_arguments_fail_fast(tmp_path: Path) -> None:
    with pytest.raises(UnknownCategoryError):
        next(validate_many([], "nope"))
    with pytest.raises(ValueError):
        next(validate_many([], "temporary", optimize=OptimizeSettings()))


class CrashingScanner:
    """Kills the worker process on one file, as a segfaulting library would."""

    name = "crasher"

    def scan(self, path: Path) -> object:
        import os

        from toolbox_uploader.core.validation import ScanResult

        if path.name == "crash.txt":
            os._exit(3)
        return ScanResult(False)


def test_a_worker_crash_holds_back_only_that_file(tmp_path: Path) -> None:
    root = tmp_path / "Drop"
    root.mkdir()
    for i in range(12):
        corpus.make_text(root, f"n{i:02}.txt")
    corpus.make_text(root, "crash.txt")
    results = list(validate_many(walk_paths([root]), "temporary", workers=2,
                                 scanner=CrashingScanner()))  # type: ignore[arg-type]
    verdicts = {entry.relative_path: report for entry, report, _ in results}
    assert len(results) == len(verdicts) == 13
    assert [r.code for r in verdicts["Drop/crash.txt"].reasons] == ["check_crashed"]
    assert all(r.accepted for rel, r in verdicts.items() if rel != "Drop/crash.txt")
