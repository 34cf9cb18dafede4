"""How responsive the window stays with a big queue (figures, not a test).

With the window open (offscreen) and the local embedded server: drop a folder of N small
files (default 10,000 in 100 sub-folders), measure how long until every row is in the table,
then let the first M (default 1,000) upload while the rest are paused. A heartbeat timer on
the GUI thread (every 5 ms) records the longest gap between its ticks, i.e. the longest time
the GUI thread could not react; the process RSS is sampled alongside.

Goals from issue 5: longest stall <= 50 ms, all rows visible within 2 s of the drop,
RSS <= 300 MB.

    .venv/bin/python bench/gui_responsiveness.py [--files 10000] [--upload 1000]
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["TOOLBOX_UPLOADER_HOME"] = _HOME = tempfile.mkdtemp(prefix="toolbox-bench-gui-")

import psutil
from PySide6.QtCore import QCoreApplication, QEventLoop, Qt, QTimer
from PySide6.QtWidgets import QApplication

from toolbox_uploader.core.events import ItemSnapshot
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.settings import Settings
from toolbox_uploader.ui.app import UploaderApp
from toolbox_uploader.ui.main_window import CloseChoice

HEARTBEAT_MS = 5


class Heartbeat:
    """Longest gap between ticks of a 5 ms timer on the GUI thread, and peak RSS."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(HEARTBEAT_MS)
        self.timer.timeout.connect(self._tick)
        self.last = time.perf_counter()
        self.longest = 0.0
        self.peak_rss = 0
        self._rss_at = 0.0

    def start(self) -> None:
        self.reset()
        self.timer.start()

    def reset(self) -> None:
        self.last = time.perf_counter()
        self.longest = 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self.last - HEARTBEAT_MS / 1000)
        self.last = now
        if now - self._rss_at > 0.1:
            self._rss_at = now
            self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)


def make_folder(root: Path, files: int) -> Path:
    folder = root / "Term materials"
    per_dir = 100
    for n in range(files):
        sub = folder / f"Unit {n // per_dir:03d}"
        if n % per_dir == 0:
            sub.mkdir(parents=True)
        (sub / f"note-{n:05d}.txt").write_text(f"Lesson note {n}: photosynthesis recap.\n")
    return folder


def spin_until(condition: Callable[[], bool], timeout: float) -> bool:
    """Run a real Qt event loop (idle between events, as in the app) until ``condition()``
    holds, checked every 20 ms, or ``timeout`` seconds passed."""
    loop = QEventLoop()
    deadline = time.monotonic() + timeout
    check = QTimer()
    check.setInterval(20)

    def poll() -> None:
        if condition() or time.monotonic() > deadline:
            loop.quit()

    check.timeout.connect(poll)
    check.start()
    loop.exec()
    check.stop()
    return condition()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--upload", type=int, default=1_000)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    work = Path(tempfile.mkdtemp(prefix="toolbox-bench-files-"))
    for made in (work, _HOME):  # 10,000 files and a server's data: gone when this ends
        atexit.register(shutil.rmtree, made, ignore_errors=True)
    t0 = time.perf_counter()
    folder = make_folder(work, args.files)
    print(f"made {args.files} files in {time.perf_counter() - t0:.1f} s (not measured)")

    uploader = UploaderApp(Settings(concurrency=4), listen=False)
    uploader.window.ask_on_close = lambda: CloseChoice.QUIT
    uploader.start()
    beat = Heartbeat()
    beat.start()
    spin_until(lambda: False, 0.3)  # settle

    model = uploader.window.model
    seen = [0]

    def park_the_rest(items: list[ItemSnapshot]) -> None:
        """Rows past the first M are paused as they arrive; only M upload."""
        first = max(0, args.upload - seen[0])
        seen[0] += len(items)
        later = [i.id for i in items[first:]]
        if later and uploader.engine is not None:
            uploader.engine.pause(later)

    uploader.bridge.items_added.connect(park_the_rest)
    beat.reset()
    dropped = time.perf_counter()
    uploader.window.add_paths([folder])

    def rows_in() -> bool:
        return model.rowCount() >= args.files

    ok = spin_until(rows_in, 60)
    rows_time = time.perf_counter() - dropped
    drop_stall = beat.longest
    print(f"rows visible: {model.rowCount()} of {args.files} in {rows_time:.2f} s"
          f" ({'ok' if ok else 'TIMED OUT'}); longest GUI stall while adding: "
          f"{drop_stall * 1000:.0f} ms")

    beat.reset()
    started = time.perf_counter()

    finished = (ItemState.DONE, ItemState.REJECTED, ItemState.FAILED)

    def uploaded() -> int:
        return model.count(finished)  # the others are paused; counting is O(1)

    last_report = [started]

    def all_uploaded() -> bool:
        if time.perf_counter() - last_report[0] > 10:
            last_report[0] = time.perf_counter()
            print(f"  … {uploaded()} of {args.upload} finished", flush=True)
        return uploaded() >= args.upload

    ok = spin_until(all_uploaded, args.timeout)
    upload_time = time.perf_counter() - started
    done = sum(1 for i in model.items() if i.state is ItemState.DONE)
    print(f"uploaded: {done} done of {args.upload} in {upload_time:.1f} s "
          f"({done / upload_time:.1f} files/s){'' if ok else ' TIMED OUT'}; longest GUI stall "
          f"while uploading: {beat.longest * 1000:.0f} ms")
    print(f"peak RSS: {beat.peak_rss / 1e6:.0f} MB")
    print(f"goals: stall <= 50 ms -> {max(drop_stall, beat.longest) * 1000:.0f} ms; "
          f"rows <= 2 s -> {rows_time:.2f} s; RSS <= 300 MB -> {beat.peak_rss / 1e6:.0f} MB")
    beat.timer.stop()
    uploader.shutdown()
    QCoreApplication.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
