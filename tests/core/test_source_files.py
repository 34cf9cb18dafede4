"""A teacher's path that is (or becomes) a pipe, folder or device is refused at once by
every reader of source files, never waited on (``core/source_files.py``)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from toolbox_uploader.core.hashing import HashState
from toolbox_uploader.core.pipeline import sha256_file
from toolbox_uploader.core.source_files import NotRegularFileError, open_fd, open_source
from toolbox_uploader.core.validation import validate_file
from toolbox_uploader.core.validation.markup import find_script
from toolbox_uploader.core.validation.pdf import check_pdf
from toolbox_uploader.core.validation.report import Findings

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")


def _within(seconds: float, fifo: Path, call: Callable[[], Any]) -> Any:
    """``call()``'s result or exception, or a failure if it is still blocked after
    ``seconds`` (then a writer is opened on ``fifo`` so the stuck reader ends)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the test thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # release the blocked open
        worker.join(5)
        pytest.fail(f"still waiting on the pipe after {seconds} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def test_regular_files_open_as_usual(tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.txt"
    sheet.write_bytes(b"fractions\n")
    with open_source(sheet) as handle:
        assert handle.read() == b"fractions\n"
    fd = open_fd(sheet)
    try:
        assert os.get_blocking(fd) and os.read(fd, 9) == b"fractions"
    finally:
        os.close(fd)
    with pytest.raises(FileNotFoundError):
        open_source(tmp_path / "gone.txt")
    with pytest.raises(NotRegularFileError, match="not a regular file"):
        open_source(tmp_path)


def test_a_pipe_is_refused_at_once_by_every_reader(tmp_path: Path) -> None:
    fifo = tmp_path / "lesson.mp4"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFileError):
        _within(5, fifo, lambda: open_source(fifo))
    with pytest.raises(NotRegularFileError):
        _within(5, fifo, lambda: sha256_file(fifo))  # the engine's hash of a small file
    with pytest.raises(NotRegularFileError):
        _within(5, fifo, lambda: HashState.from_prefix(fifo, 10))  # resuming: what was sent
    report = _within(5, fifo, lambda: validate_file(fifo, "educational_content"))
    assert [r.code for r in report.reasons] == ["not_a_file"]


def test_the_content_checks_refuse_a_pipe_at_once(tmp_path: Path) -> None:
    """They open the path again after the head was read: a pipe swapped in meanwhile."""
    page, sheet = tmp_path / "page.html", tmp_path / "sheet.pdf"
    os.mkfifo(page)
    os.mkfifo(sheet)
    with pytest.raises(NotRegularFileError):
        _within(5, page, lambda: find_script(page))
    with pytest.raises(NotRegularFileError):
        _within(5, sheet, lambda: check_pdf(sheet, 2048, Findings(), scripts_allowed=False))


def test_a_file_swapped_for_a_pipe_while_checked_never_hangs(tmp_path: Path) -> None:
    """A rename race: the path is a file at one instant and a pipe at the next."""
    target = tmp_path / "sheet.txt"
    target.write_text("hello\n")
    stop = threading.Event()

    def swap() -> None:
        for n in range(100_000):
            if stop.is_set():
                return
            spare = tmp_path / f"spare-{n}"
            if n % 2:
                spare.write_text("hello\n")
            else:
                os.mkfifo(spare)
            os.replace(spare, target)

    swapper = threading.Thread(target=swap, daemon=True)
    swapper.start()
    try:
        deadline = time.monotonic() + 2.0
        codes: set[str] = set()
        while time.monotonic() < deadline:
            report = _within(5, target, lambda: validate_file(target, "educational_content"))
            codes.update(r.code for r in report.reasons)
        assert codes <= {"not_a_file", "missing_file"}
    finally:
        stop.set()
        swapper.join(5)
