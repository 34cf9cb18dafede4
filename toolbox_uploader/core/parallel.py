"""Validate (and optionally optimize) many files on every core, streaming results back.

A spawn-context process pool: spawn, not fork, because the desktop app and the engine run
threads (Qt, asyncio) and forking a threaded process can deadlock; spawn is also what
Windows and macOS do anyway. Work goes out in small batches (a few files or a few MB) so
that the per-task cost of the pool stays small next to a 100 KB file, and at most
``max_in_flight`` batches are outstanding, so memory stays bounded however many files are
dropped. Results come back in completion order, one tuple per file.

If a worker dies (a native library crashing on a hostile file), the pool is restarted and
the files it held are retried one at a time, alone; the one that crashes again is refused
as ``check_crashed`` and every other file still gets its real verdict.

Workers ignore SIGINT: Ctrl+C in a terminal reaches the whole process group, and it is
the parent's to act on (it cancels the work and shuts the pool down); workers that each
raised ``KeyboardInterrupt`` would print their own tracebacks. A worker starts with SIGINT
blocked (the parent blocks it while the pool spawns one: a child inherits the mask) and
ignores it before unblocking, so even a Ctrl+C during its imports stays quiet; the
parent's own Ctrl+C waits those few milliseconds, it is not lost.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from itertools import islice
from pathlib import Path

from toolbox_uploader.core.categories import get_category
from toolbox_uploader.core.events import Reason
from toolbox_uploader.core.optimize import (
    OptimizationResult,
    OptimizeError,
    OptimizeSettings,
    optimize_image,
)
from toolbox_uploader.core.validation import ValidationReport, Verdict, validate_file
from toolbox_uploader.core.validation.names import printable_name
from toolbox_uploader.core.validation.scanner import Scanner
from toolbox_uploader.core.walk import WalkEntry

OPTIMIZABLE = frozenset({"image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"})
BATCH_FILES = 16
BATCH_BYTES = 4 * 1024 * 1024
#: Below this many files the pool's start-up (about a second) costs more than it saves.
INLINE_BELOW = 4
#: The most worker processes a pool may have on every platform (Windows refuses more than 61).
MAX_WORKERS = 61

Result = tuple[WalkEntry, ValidationReport, OptimizationResult | None]


def process_one(entry: WalkEntry, category: str, optimize: OptimizeSettings | None,
                out_dir: Path | None, scanner: Scanner | None) -> Result:
    """Validate one file and, if accepted and an image, optimize it. Runs in a worker."""
    if entry.error is not None:
        return entry, _walk_error_report(entry, category), None
    filename = entry.relative_path.rsplit("/", 1)[-1]
    report = validate_file(entry.path, category, filename=filename, scanner=scanner)
    result = None
    if optimize is not None and out_dir is not None and report.accepted \
            and report.mime_type in OPTIMIZABLE:
        try:
            result = optimize_image(entry.path, out_dir, optimize)
        except (OptimizeError, OSError) as exc:
            warning = Reason("optimize_failed", f"Not optimized, the original is used ({exc}).")
            report = replace(report, warnings=(*report.warnings, warning),
                             verdict=Verdict.WARN)
    return entry, report, result


def _process_batch(batch: list[WalkEntry], category: str, optimize: OptimizeSettings | None,
                   out_dir: Path | None, scanner: Scanner | None) -> list[Result]:
    return [process_one(entry, category, optimize, out_dir, scanner) for entry in batch]


def _walk_error_report(entry: WalkEntry, category: str) -> ValidationReport:
    assert entry.error is not None
    return ValidationReport(
        path=entry.path, filename=printable_name(entry.relative_path.rsplit("/", 1)[-1]),
        category=category, verdict=Verdict.REJECT, mime_type="application/octet-stream",
        size=0, reasons=(entry.error,), warnings=(), storage_name=printable_name(entry.path.name),
    )


def _batches(entries: Iterator[WalkEntry], optimize: bool) -> Iterator[list[WalkEntry]]:
    """Group files so one task carries a few small files, or one photo to optimize."""
    limit = 1 if optimize else BATCH_FILES
    batch: list[WalkEntry] = []
    weight = 0
    for entry in entries:
        batch.append(entry)
        if entry.error is None:
            with contextlib.suppress(OSError):
                weight += entry.path.stat().st_size
        if len(batch) >= limit or weight >= BATCH_BYTES:
            yield batch
            batch, weight = [], 0
    if batch:
        yield batch


def validate_many(entries: Iterable[WalkEntry], category: str, *,
                  optimize: OptimizeSettings | None = None, out_dir: Path | None = None,
                  scanner: Scanner | None = None, workers: int | None = None,
                  max_in_flight: int | None = None) -> Iterator[Result]:
    """Yield ``(entry, report, optimization or None)`` for each entry, as each finishes.

    ``optimize`` turns on image optimization into ``out_dir``. ``workers=1`` runs in this
    process (no pool). Closing the generator early cancels the queued work."""
    get_category(category)  # fail fast on a bad category, before any process starts
    if optimize is not None and out_dir is None:
        raise ValueError("optimize needs an out_dir (usually paths.optimized_cache_dir())")
    workers = min(workers or os.cpu_count() or 1, MAX_WORKERS)
    iterator = iter(entries)
    first = list(islice(iterator, INLINE_BELOW))
    if workers == 1 or len(first) < INLINE_BELOW:
        for entry in (*first, *iterator):
            yield process_one(entry, category, optimize, out_dir, scanner)
        return
    batches = _batches(_chain(first, iterator), optimize is not None)
    limit = max_in_flight or workers * 3
    context = multiprocessing.get_context("spawn")
    pool = _new_pool(workers, context)
    # future -> (its batch, whether it is a lone file being retried after a crash)
    pending: dict[Future[list[Result]], tuple[list[WalkEntry], bool]] = {}
    retry: list[WalkEntry] = []

    def submit(batch: list[WalkEntry], alone: bool) -> None:
        with _ctrl_c_held():  # a worker spawned here starts with it blocked
            future = pool.submit(_process_batch, batch, category, optimize, out_dir, scanner)
        pending[future] = (batch, alone)

    try:
        for batch in islice(batches, limit):
            submit(batch, False)
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                batch, alone = pending.pop(future)
                try:
                    results = future.result()
                except BrokenProcessPool:
                    # A worker died (a library crashed on some file). Start a new pool and
                    # retry the batch one file at a time to find which file did it.
                    if pool._broken:  # type: ignore[attr-defined]
                        pool.shutdown(wait=False, cancel_futures=True)
                        pool = _new_pool(workers, context)
                    if alone:
                        yield batch[0], _crash_report(batch[0], category), None
                    else:
                        retry.extend(batch)
                    results = []
                if retry:
                    # suspects run alone, so that a crash can only be their own
                    if not pending:
                        submit([retry.pop()], True)
                elif len(pending) < limit:
                    for batch in islice(batches, 1):
                        submit(batch, False)
                yield from results
    finally:
        try:
            pool.shutdown(wait=True, cancel_futures=True)
        except RuntimeError:
            # Ctrl+C between the pool starting its workers and its manager thread: nothing
            # would ever tell those workers to stop, and exit would wait for them.
            for process in list((pool._processes or {}).values()):  # type: ignore[attr-defined]
                process.terminate()


def _new_pool(workers: int, context: multiprocessing.context.BaseContext) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=context,
                               initializer=_ignore_ctrl_c)


def _ignore_ctrl_c() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@contextlib.contextmanager
def _ctrl_c_held() -> Iterator[None]:
    """SIGINT blocked (held pending, delivered after) on this thread; POSIX only."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _crash_report(entry: WalkEntry, category: str) -> ValidationReport:
    crashed = WalkEntry(entry.path, entry.relative_path, Reason(
        "check_crashed",
        "Checking this file crashed the checker; it is held back as possibly hostile.",
    ))
    return _walk_error_report(crashed, category)


def _chain(first: list[WalkEntry], rest: Iterator[WalkEntry]) -> Iterator[WalkEntry]:
    yield from first
    yield from rest
