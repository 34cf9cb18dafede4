"""The upload engine: a persistent queue worked by validation and upload lanes.

``Engine`` owns a worker thread with its own asyncio loop (never the GUI's). Commands are
thread-safe and return at once (they are posted to the loop); listeners get coalesced
event batches on the engine thread, at most ten a second. Everything that must survive a
crash is in the ``SessionStore``; the in-memory state is a cache of it plus live speed.

Per item: queued → validating → (optimizing) → ready → uploading → verifying → done.
Validation runs ahead in a thread pool while uploads use the network slots
(``scheduler.Lanes``); failures follow ``scheduler.decide``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import gc
import itertools
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from toolbox_uploader import paths
from toolbox_uploader.core import pipeline
from toolbox_uploader.core.body_cache import BODY_MAX_BYTES, BodyCache
from toolbox_uploader.core.events import (
    ALREADY_UPLOADED,
    REMOVED_FROM_SERVER,
    BatchProgress,
    DropFinished,
    EngineEvent,
    ItemChanged,
    ItemsAdded,
    ItemSnapshot,
    ItemsRemoved,
    QueueStatus,
    Reason,
    ServerStatus,
)
from toolbox_uploader.core.lock import EngineBusyError, StoreLock
from toolbox_uploader.core.loop_thread import LoopThread
from toolbox_uploader.core.ordered_ids import OrderedIds
from toolbox_uploader.core.progress import Dispatcher, Listener, SpeedMeter
from toolbox_uploader.core.scheduler import Action, Lanes, decide
from toolbox_uploader.core.session_store import (
    ItemRecord,
    NewItem,
    SessionStore,
    UnsavedChange,
    relative_upload_path,
)
from toolbox_uploader.core.sqlite_db import held_by_another
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.core.toolbox_api import file_page
from toolbox_uploader.core.transfer_errors import ErrorKind, TransferError, classify_exception
from toolbox_uploader.core.unsaved import UnsavedItems
from toolbox_uploader.core.upload_job import (
    AlreadyUploaded,
    Connection,
    SourceChanged,
    Stopped,
    Target,
    Uploaded,
    UploadJob,
)
from toolbox_uploader.core.validation.names import printable_name
from toolbox_uploader.core.walk import WalkTally

__all__ = ["LIVE_FIELDS", "Engine", "EngineBusyError", "EngineConfig"]

_CHANGED_WHILE_SENDING = ("The file changed while it was being sent; it is sent again from "
                          "the start.")

log = logging.getLogger(__name__)
S = ItemState

#: States in which an item still has work ahead of it without anyone pressing a button.
_PENDING = frozenset({S.QUEUED, S.VALIDATING, S.OPTIMIZING, S.READY, S.UPLOADING, S.VERIFYING})
_TICK = 0.1  # progress refresh (listeners are coalesced to 10/s anyway)
_SAVE_EVERY = 1.0  # how often live upload progress is written to the store
_PLACE_EVERY = 10  # ticks between looks at whether the queue file is still where it was
#: The wall clock moved this far against the loop's (a wake-up, a clock set): waits follow.
_CLOCK_JUMP = 2.0
#: After a wake-up, how long a request in flight has to show its connection still carries
#: bytes before it is dropped and retried on a new one (else it waits out its 30 s timeout).
_WAKE_GRACE = 3.0
_TERMINATE_ATTEMPTS = 6  # DELETE of a cancelled upload: 0.25 s, 0.5 s … about 8 s in all
_BULK_ADD = 1000  # files in one drop from which the cyclic collector waits (see below)
#: What the teacher is told while the session store refuses writes (``QueueStatus``).
QUEUE_NOT_SAVED = ("The upload queue cannot be saved (is the disk full, or the file read-only?). "
                   "Uploads go on; files added or removed meanwhile wait until it can be.")
QUEUE_LOCKED = ("The upload queue cannot be saved: another program holds its file locked. "
                "Uploads go on; files added or removed meanwhile wait until it can be.")


def queue_refusal(cause: BaseException) -> str:
    """What the teacher is told about a write the store refused, by SQLite's error code."""
    if isinstance(cause, sqlite3.Error) and held_by_another(cause):
        return QUEUE_LOCKED
    return QUEUE_NOT_SAVED
_REFUSED_FIRST_DELAY, _REFUSED_MAX_DELAY = 1.0, 30.0  # a refused drop or removal again
_SWITCH_WAIT = 10.0  # how long the old server's requests may take to wind down
_CHECK_TIMEOUT = 10.0  # is a re-dropped done file still on the server? (one request)
_CHECK_HOLD = 30.0  # after a check went unanswered, the others are not asked
#: Walk problems that mean a dropped file could not be opened, by the ``DropFinished``
#: count they go to (a loop or a pipe is refused for what it is, not unopenable).
_NOT_OPENED = {"missing_file": "missing", "broken_link": "missing", "unreadable": "unreadable"}
#: Settings a running engine takes over at once (``Engine.update_config``).
LIVE_FIELDS = frozenset({"concurrency", "bandwidth_limit", "optimize_images", "max_image_edge",
                         "image_quality", "strip_location", "auto_resume",
                         "default_category"})


@contextlib.contextmanager
def _collector_paused(bulk: bool) -> Iterator[None]:
    """Queue a big drop without a full pass of the cyclic garbage collector in the middle.

    Queuing 10,000 files makes tens of thousands of long-lived objects, which triggers a
    full collection: about 45 ms holding the GIL, a frozen window in the app whichever
    thread pays it (``bench/gui_responsiveness.py``). The collector waits during the add,
    then the queue's objects are moved out of its way (``gc.freeze``): they live as long as
    the queue and hold no cycles; young garbage is collected first so none is kept.
    """
    if not bulk or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.collect(1)
        gc.freeze()
        gc.enable()


@dataclass
class EngineConfig:
    store_path: Path | None = None  # None: toolbox_uploader.paths.session_db_path()
    server_url: str | None = None  # a toolbox server (tus at /api/v1/storage/tus/, REST extras)
    tus_endpoint: str | None = None  # OR any tus 1.0 endpoint
    token: str | None = None
    server_key: str | None = None  # stable identity of the server ("local" for the embedded one)
    concurrency: int = 3
    optimize_images: bool = True
    max_image_edge: int = 2560
    image_quality: int | None = None  # None = the seed's ladder
    strip_location: bool = True
    bandwidth_limit: int | None = None  # bytes/s for all uploads together
    auto_resume: bool = True  # resume unfinished items at start
    #: Work only on what ``add_paths`` gives this run (the ``upload`` command): the rest of
    #: the stored queue waits as it is, unchanged, for the app or the command that owns it.
    only_added: bool = False
    default_category: str = "educational_content"
    prepare_workers: int | None = None  # validation threads; None = number of CPUs
    max_chunk_size: int | None = None  # cap of the adaptive PATCH size (1-50 MiB by default)

    def __post_init__(self) -> None:
        if self.store_path is None:
            self.store_path = paths.session_db_path()
        self.store_path = Path(self.store_path)


class Engine:
    """Owns its thread and asyncio loop. All command methods are thread-safe and return at once."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self._config_lock = threading.Lock()  # ``config`` is replaced whole, never edited
        assert config.store_path is not None
        self._lock = StoreLock(config.store_path)
        self._store: SessionStore | None = None
        self._loop_thread = LoopThread("toolbox-engine")
        self._idle = threading.Condition()
        self._snapshots: dict[int, ItemSnapshot] = {}
        # Loop-thread state below.
        self._records: dict[int, ItemRecord] = {}
        self._waiting: dict[ItemState, OrderedIds] = {S.QUEUED: OrderedIds(),
                                                      S.READY: OrderedIds()}
        # Bytes that left in this run, for the overall speed: not the offsets a resumed
        # upload starts from, nor a file found already on the server.
        self._sent_now = 0
        self._totals = _Totals()  # the batch totals of the stored records, kept up to date
        self._jobs: dict[int, UploadJob] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        #: Done files asked for again: is each still on its server? (``_check_still_there``)
        self._checks: dict[int, asyncio.Task[None]] = {}
        self._check_slots: asyncio.Semaphore | None = None  # made on the loop (``_startup``)
        #: Until when checks over a connection are not asked (its server did not answer).
        self._checks_unanswered: dict[Connection, float] = {}
        self._preparing: set[int] = set()
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._held_twins: set[int] = set()  # ready, but its twin was being sent
        self._meters: dict[int, SpeedMeter] = {}
        self._live: dict[int, int] = {}
        self._resumed: dict[int, int] = {}  # server offset at the last pick-up (snapshots)
        self._dirty: set[int] = set()
        self._saved_at: dict[int, float] = {}
        self._total_meter = SpeedMeter()
        self._lanes = Lanes(config.concurrency)
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._prepare_limit = 4
        self._connection: Connection | None = None
        self._dispatcher: Dispatcher | None = None
        self._pump_scheduled = False
        self._auth_paused = False
        self._stopping = False
        self._ticker: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()  # DELETEs of cancelled uploads
        self._drainer: Connection | None = None  # the connection now deleting given-up uploads
        self._drain_again = False
        self._prepare_tasks: set[asyncio.Task[Any]] = set()
        self._walks: set[asyncio.Future[Any]] = set()  # dropped paths still being read
        self._drops_grace = 0.0  # how long stopping waits for them (``stop``)
        self._server_status: ServerStatus | None = None
        self._queue_problem: QueueStatus | None = None  # the store refused a write
        # Asked for while the store refused writes: done again later (``_retry_refused``).
        self._refused_drops: list[tuple[list[Path], str | None, bool]] = []
        self._refused_removals: set[int] = set()
        self._refused_timer: asyncio.TimerHandle | None = None
        self._refused_delay = _REFUSED_FIRST_DELAY
        self._pending_commands = 0
        self._idle_key = self._target().server_key  # items of other servers wait
        self._busy: set[int] = set()  # ids of this server's items with work ahead
        self._held: set[int] = set()  # stored items left alone this run (``only_added``)
        self._bodies = BodyCache()  # small ready files' bytes, read once when validated
        self._unsaved = UnsavedItems()  # changes the store refused (disk full), kept here
        self._flush_timer: asyncio.TimerHandle | None = None
        self._clock_offset = 0.0  # time.time() - loop.time() at the last tick

    # ------------------------------------------------------------------ life cycle (any thread)

    @property
    def server_key(self) -> str:
        return self._idle_key

    def _target(self) -> Target:
        c = self.config
        return Target.build(c.server_url, c.tus_endpoint, c.token, c.server_key)

    def start(self) -> None:
        """Restore the queue from the store and start working; one engine per store."""
        if self._loop_thread.running:
            return
        self._stopping = False
        with self._idle:
            # Commands the last run's loop never got to (a folder still being walked at
            # stop()) never end: counted on, they would keep ``wait_idle`` waiting for ever.
            self._pending_commands = 0
        self._lock.acquire()
        try:
            assert self.config.store_path is not None
            self._store = SessionStore(self.config.store_path)
        except BaseException:
            self._lock.release()
            raise
        try:
            self._loop_thread.start(self._startup)
        except BaseException:
            self._store.close()
            self._lock.release()
            raise

    def stop(self, timeout: float = 10.0, *, drops_grace: float = 0.0) -> None:
        """Stop cleanly: running uploads are interrupted, every unfinished item stays
        resumable. ``drops_grace``: seconds to wait first for dropped folders still being
        read, so that their files are queued (and come back at the next start) instead of
        lost; the app gives a few, a command that is run again with its paths none."""
        if not self._loop_thread.running:
            return
        self._drops_grace = drops_grace
        self._loop_thread.stop(lambda: self._shutdown(timeout * 0.8), timeout)
        if self._store is not None:
            self._store.close()
            self._store = None
        self._lock.release()
        with self._idle:
            self._idle.notify_all()

    def __enter__(self) -> Engine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def _loop(self) -> asyncio.AbstractEventLoop | None:
        return self._loop_thread.loop

    # ------------------------------------------------------------------ commands (any thread)

    def _post(self, method: Callable[..., Any], *args: Any) -> None:
        loop = self._loop
        if loop is None or not loop.is_running():
            raise RuntimeError("the engine is not running; call start() first")
        with self._idle:
            self._pending_commands += 1

        def run() -> None:
            try:
                method(*args)
            except Exception:
                log.exception("engine command %s failed", getattr(method, "__name__", method))
            finally:
                with self._idle:
                    self._pending_commands -= 1
                    self._idle.notify_all()

        loop.call_soon_threadsafe(run)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """``listener`` runs on the engine thread; its first batch is ItemsAdded(all items)."""
        box: dict[str, int] = {}
        ready = threading.Event()

        def add() -> None:
            assert self._dispatcher is not None
            first: list[EngineEvent] = [ItemsAdded(tuple(self._snapshot_all()))]
            if self._server_status is not None:
                first.append(self._server_status)
            if self._queue_problem is not None:
                first.append(self._queue_problem)
            first.append(self._batch_progress())
            box["key"] = self._dispatcher.add(listener, first)
            ready.set()

        self._post(add)

        def unsubscribe() -> None:
            def drop() -> None:
                if self._dispatcher is not None and "key" in box:
                    self._dispatcher.discard(box["key"])

            if self._loop is not None and self._loop.is_running():
                self._post(drop)

        return unsubscribe

    def snapshot(self) -> list[ItemSnapshot]:
        with self._idle:
            return sorted(self._snapshots.values(), key=lambda s: s.id)

    def add_paths(self, paths_: Sequence[Path], category: str | None = None, *,
                  recategorize: bool = False) -> None:
        """Queue files and folders; files already queued are picked up again (retried,
        resumed). ``recategorize``: those take ``category`` too (a command run again with
        ``--category``). Otherwise only rows refused under their category take it (dropped
        again under another one); rows on their way keep theirs, and their upload. Ends
        with one ``DropFinished`` to listeners, once the paths are walked and queued."""
        self._post(self._add_paths, [Path(p) for p in paths_], category, recategorize)

    def pause(self, ids: Iterable[int]) -> None:
        self._post(self._pause, list(ids))

    def resume(self, ids: Iterable[int]) -> None:
        self._post(self._resume, list(ids))

    def cancel(self, ids: Iterable[int]) -> None:
        self._post(self._cancel, list(ids))

    def retry(self, ids: Iterable[int]) -> None:
        self._post(self._retry, list(ids))

    def remove(self, ids: Iterable[int]) -> None:
        self._post(self._remove, list(ids))

    def set_category(self, item_id: int, category: str) -> None:
        self._post(self._set_category, item_id, category)

    def pause_all(self) -> None:
        self._post(lambda: self._pause(list(self._records)))

    def resume_all(self) -> None:
        self._post(self._resume_all)

    def retry_failed(self) -> None:
        """Failed items of the chosen server: one waiting for another server would only
        leave "not sent" to wait for it again."""
        self._post(lambda: self._retry(
            [i for i, r in self._records.items()
             if r.state is S.FAILED and r.server_key == self.server_key]))

    def clear_finished(self) -> None:
        self._post(lambda: self._remove(
            [i for i, r in self._records.items() if r.state in (S.DONE, S.CANCELLED, S.REJECTED)]))

    def set_server(self, server_url: str | None, tus_endpoint: str | None, token: str | None,
                   server_key: str | None = None) -> None:
        self._post(self._set_server, server_url, tus_endpoint, token, server_key)

    def update_config(self, **changes: Any) -> None:
        """Take over new settings (``LIVE_FIELDS``) without a restart: ``config`` shows them
        at once; uploads in flight follow a new bandwidth limit from their next piece, a
        higher concurrency starts more uploads now, a lower one lets running ones finish.
        Image settings apply to files prepared from now on."""
        unknown = set(changes) - LIVE_FIELDS
        if unknown:
            raise ValueError(f"not changeable while running: {', '.join(sorted(unknown))}")
        with self._config_lock:
            self.config = replace(self.config, **changes)
        if self._loop is not None and self._loop.is_running():
            self._post(self._apply_limits)
        else:
            self._lanes.concurrency = max(1, self.config.concurrency)

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing is queued, active or waiting for an automatic retry."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while True:
                if self._is_idle():
                    return True
                left = deadline - time.monotonic()
                if left <= 0 or not self._loop_thread.running:
                    return self._is_idle()
                self._idle.wait(min(left, 0.5))

    def _store_snapshot(self, snap: ItemSnapshot) -> None:  # caller holds self._idle
        """Keep the snapshot and the set of items that still have work ahead (O(1) idle)."""
        self._snapshots[snap.id] = snap
        if snap.server == self._idle_key and snap.id not in self._held and (
                snap.state in _PENDING
                or (snap.state is S.FAILED and snap.next_attempt_at is not None)):
            self._busy.add(snap.id)
        else:
            self._busy.discard(snap.id)

    def _is_idle(self) -> bool:  # caller holds self._idle
        # A request still winding down may have a command's follow-up to run (``job.then``:
        # a pause that was a category change, a resume): the item looks paused meanwhile.
        if self._pending_commands or self._jobs or self._checks:
            return False
        if not self._auth_paused:
            return not self._busy
        key = self._idle_key
        # Waiting for a sign-in is idle too: nothing will move until someone acts.
        pending = _PENDING - {S.READY} if self._auth_paused else _PENDING
        return not any(
            s.state in pending or (s.state is S.FAILED and s.next_attempt_at is not None
                                   and not self._auth_paused)
            for s in self._snapshots.values() if s.server == key and s.id not in self._held
        )

    # ------------------------------------------------------------------ loop: start and stop

    @property
    def store(self) -> SessionStore:
        assert self._store is not None
        return self._store

    def _connect(self) -> Connection:
        return Connection(self._target(), self.config.bandwidth_limit,
                          max_chunk_size=self.config.max_chunk_size)

    async def _startup(self) -> None:
        loop = asyncio.get_running_loop()
        # A restarted engine starts from the store, not from what the last run cached.
        self._check_slots = asyncio.Semaphore(8)  # a re-dropped folder of 1,000: 8 at a time
        self._checks_unanswered.clear()
        self._records.clear()
        for ids in self._waiting.values():
            ids.clear()
        self._sent_now = 0
        self._total_meter.reset()
        self._totals = _Totals()
        self._preparing.clear()
        self._bodies.clear()
        self._live.clear()
        self._resumed.clear()
        self._meters.clear()
        self._dirty.clear()
        self._server_status = None
        self._auth_paused = False
        self._unsaved.clear()
        with self._idle:
            self._snapshots.clear()
            self._busy.clear()
        workers = self.config.prepare_workers or max(2, os.cpu_count() or 2)
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, "toolbox-prepare")
        self._prepare_limit = workers * 2
        self._dispatcher = Dispatcher(loop, batch_provider=self._batch_progress)
        self._connection = self._connect()
        self._drainer = None
        self._drain_abandoned()  # what the last run gave up but could not delete
        self.store.restore_interrupted()
        now = time.time()
        records = self._without_refused_copies(self.store.items())
        self._held = {r.id for r in records} if self.config.only_added else set()
        for record in records:
            self._remember(record)
            waiting = record.state is S.FAILED and record.next_attempt_at is not None
            if waiting and record.id not in self._held:
                assert record.next_attempt_at is not None
                wait = _wait_left(record, now)
                if record.next_attempt_at > now + wait + 1.0:  # the row shows the real time
                    record = self._update(record.id, next_attempt_at=now + wait)
                self._arm_retry(record.id, wait)
            self._publish(record)
        if not self.config.auto_resume:
            for item_id, record in list(self._records.items()):
                if record.state in (S.QUEUED, S.READY):
                    self._set_state(item_id, S.PAUSED)
        self._clock_offset = time.time() - loop.time()
        self._ticker = loop.create_task(self._tick())
        self._kick()

    def _without_refused_copies(self, records: list[ItemRecord]) -> list[ItemRecord]:
        """The stored items but those an earlier run made for a refused token
        (``_copies_for_refused_token``), removed before anyone is told of them: a rerun
        with the right token then lists each file once, as already on the server."""
        copies = self._copies_for_refused_token(records)
        if not copies:
            return records
        try:
            removed = set(self.store.remove(list(copies)))
        except sqlite3.OperationalError as exc:  # kept for now; the next start tries again
            log.warning("could not remove %d item(s) yet: %s", len(copies), exc)
            return records
        return [r for r in records if r.id not in removed]

    async def _shutdown(self, timeout: float) -> None:
        if self._walks:
            await self._finish_drops(min(self._drops_grace, timeout / 2))
        self._stopping = True
        # First: a retry falling due while requests wind down would turn a waiting row
        # into a ready one, losing its wait (and what ``upload --give-up-after`` reported).
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for job in self._jobs.values():
            job.stop("stop")
        tasks = list(self._tasks.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=max(0.5, timeout - 1))
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1)
        for check in list(self._checks.values()):
            check.cancel()
        preparing = list(self._prepare_tasks)  # a check in a worker: asked again next start
        for task in preparing:
            task.cancel()
        if preparing:
            await asyncio.wait(preparing, timeout=1)
        # Saved first: leaving ``uploading`` forgets the live progress of an upload whose
        # request did not wind down in time (the server's offset, ``upload_file`` says).
        for item_id in list(self._live):
            self._save_progress(item_id)
        # Whatever is still mid-work goes back to where a restart would put it (marked
        # interrupted, as ``SessionStore.restore_interrupted`` does after a crash).
        for item_id, record in list(self._records.items()):
            if record.state in (S.UPLOADING, S.VERIFYING):
                self._set_state(item_id, S.READY, interrupted=True)
            elif record.state in (S.VALIDATING, S.OPTIMIZING):
                self._set_state(item_id, S.QUEUED)
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        if self._unsaved and not self._unsaved.flush(self.store, self._records):
            log.warning("the upload queue could not be saved; the next start carries on "
                        "from what it last saved")
        if self._background:  # let a just-cancelled upload's DELETE reach the server
            _, late = await asyncio.wait(list(self._background), timeout=2.0)
            for task in late:  # still retrying: the store keeps those for the next start
                task.cancel()
            if late:
                log.info("%d task(s) cut short; given-up uploads are deleted at the next "
                         "start", len(late))
                await asyncio.wait(late, timeout=0.5)
        for timer in self._timers.values():  # armed while winding down (an error's retry)
            timer.cancel()
        if self._refused_timer is not None:  # refused drops and removals: lost, said in the log
            self._refused_timer.cancel()
            log.warning("%d drop(s) and %d removal(s) the queue refused are given up",
                        len(self._refused_drops), len(self._refused_removals))
        if self._ticker is not None:
            self._ticker.cancel()
        if self._dispatcher is not None:
            self._dispatcher.flush()
        if self._connection is not None:
            await self._connection.aclose()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ loop: state and events

    def _remember(self, record: ItemRecord) -> None:
        """Cache the stored record; queued/ready ids are kept apart so the pump stays O(k)."""
        old = self._records.get(record.id)
        if old is not None:
            self._totals.count(old, -1)
        self._totals.count(record, 1)
        moved = old is None or old.state is not record.state
        if moved and old is not None and old.state in self._waiting:
            self._waiting[old.state].discard(record.id)
        self._records[record.id] = record
        if moved and record.state in self._waiting:
            self._waiting[record.state].add(record.id)
        if record.state is not S.READY:
            self._bodies.drop(record.id)
        if record.state is S.DONE or not (record.upload_url or record.upload_path):
            self._resumed.pop(record.id, None)  # finished, or started over from nothing

    def _forget(self, item_id: int) -> None:
        self._bodies.drop(item_id)
        self._unsaved.forget(item_id)
        self._resumed.pop(item_id, None)
        self._held_twins.discard(item_id)
        old = self._records.pop(item_id, None)
        if old is not None:
            self._totals.count(old, -1)
        if old is not None and old.state in self._waiting:
            self._waiting[old.state].discard(item_id)

    def _set_state(self, item_id: int, state: ItemState, **changes: Any) -> ItemRecord:
        current = self._records.get(item_id)
        if current is not None and item_id in self._unsaved:  # written whole once it can be
            record = SessionStore.transitioned(current, state, **changes)
        else:
            try:
                record = self.store.transition(item_id, state, current=current, **changes)
            except UnsavedChange as unsaved:
                record = self._keep_unsaved(unsaved, current)
            else:
                if self._queue_problem is not None:
                    self._queue_saved()
        self._remember(record)
        if state is not S.UPLOADING:
            self._live.pop(item_id, None)
            self._meters.pop(item_id, None)
            if not self._live:  # nothing sends: the next upload's speed is measured afresh
                self._total_meter.reset()
        self._publish(record)
        self._kick()
        return record

    def _update(self, item_id: int, **changes: Any) -> ItemRecord:
        current = self._records.get(item_id)
        if current is not None and item_id in self._unsaved:
            record = SessionStore.updated(current, **changes)
        else:
            try:
                record = self.store.update(item_id, current=current, **changes)
            except UnsavedChange as unsaved:
                record = self._keep_unsaved(unsaved, current)
        self._remember(record)
        return record

    def _keep_unsaved(self, unsaved: UnsavedChange, current: ItemRecord | None) -> ItemRecord:
        """The store refused a change (disk full, read-only): the item goes on from memory
        and its row is written again until the store takes it (``core/unsaved.py``)."""
        record = unsaved.record
        self._unsaved.note(record.id, current.state if current is not None else record.state)
        if self._flush_timer is None:
            log.warning("%s; uploads go on and it is saved again as soon as it can be",
                        unsaved)
            self._queue_refused(queue_refusal(unsaved.cause))
            self._arm_flush()
        return record

    def _queue_refused(self, message: str) -> None:
        if self._queue_problem == QueueStatus(False, message):
            return  # said already (a refused drop tried again)
        self._queue_problem = QueueStatus(False, message)
        if self._dispatcher is not None:
            self._dispatcher.emit(self._queue_problem)

    def _queue_saved(self) -> None:
        """A write went through: the problem is over once nothing waits to be written."""
        if (self._queue_problem is None or self._unsaved or self._refused_drops
                or self._refused_removals):
            return
        self._queue_problem = None
        if self._dispatcher is not None:
            self._dispatcher.emit(QueueStatus(True))

    def _arm_flush(self) -> None:
        assert self._loop is not None
        self._flush_timer = self._loop.call_later(self._unsaved.next_delay(), self._flush)

    def _flush(self) -> None:
        self._flush_timer = None
        if self._unsaved.flush(self.store, self._records):
            log.warning("the upload queue is saved again")
            self._queue_saved()
        elif not self._stopping:
            self._arm_flush()

    def _snap(self, record: ItemRecord) -> ItemSnapshot:
        meter = self._meters.get(record.id)
        size = record.upload_size
        sent = self._live.get(record.id, record.bytes_sent)
        if record.state is S.DONE:
            sent = size or sent
        speed = meter.speed if meter else 0.0
        eta = meter.eta(size - sent) if meter and size is not None else None
        return ItemSnapshot(
            id=record.id, source_path=record.source_path, relative_path=record.relative_path,
            display_name=record.display_name, category=record.category, size=record.size,
            state=record.state, bytes_sent=sent, speed=speed, eta=eta, reason=record.reason,
            warnings=tuple(record.warnings), retryable=record.retryable,
            next_attempt_at=record.next_attempt_at, attempts=record.attempts,
            upload_url=record.upload_url, file_url=record.file_url,
            optimized_size=record.optimized_size if record.optimized_path else None,
            server=record.server_key, resumed_from=self._resumed.get(record.id),
        )

    def _snapshot_all(self) -> list[ItemSnapshot]:
        return [self._snap(r) for r in sorted(self._records.values(), key=lambda r: r.id)]

    def _publish(self, record: ItemRecord) -> None:
        snap = self._snap(record)
        with self._idle:
            self._store_snapshot(snap)
            # Waking ``wait_idle`` on every change costs a thread switch per transition;
            # only a change that may have made the engine idle can end its wait.
            if not self._busy or self._auth_paused:
                self._idle.notify_all()
        if self._dispatcher is not None:
            self._dispatcher.emit(ItemChanged(snap))
            self._dispatcher.batch_changed()

    def _emit_status(self, status: ServerStatus) -> None:
        if status == self._server_status:
            return
        self._server_status = status
        if self._dispatcher is not None:
            self._dispatcher.emit(status)

    def _batch_progress(self) -> BatchProgress:
        """Totals in O(running uploads): the stored part is kept up to date by ``_remember``.

        It runs with every batch (ten a second); a loop over 10,000 records here took the
        GIL for milliseconds each time, time the GUI thread then waited for (issue 5).
        """
        t = self._totals
        bytes_done = t.bytes_done
        for item_id, sent in self._live.items():
            record = self._records.get(item_id)
            if record is not None and _counts_live(record.state):
                bytes_done += sent - record.bytes_sent
        # Only while something is sending: all paused, waiting for the network or done
        # moves nothing, and ``upload --json`` would tell a time left from the last speed.
        speed = self._total_meter.speed if self._live else 0.0
        left = t.bytes_total - bytes_done
        # Only while something is sending: a finished or waiting batch has no time left.
        eta = (left / speed if speed > 0 and left > 0 and self._live
               and self._total_meter.settled else None)
        return BatchProgress(t.total, t.done, t.failed, t.bytes_total, bytes_done, speed, eta)

    async def _tick(self) -> None:
        """Refresh live progress of running uploads and save it now and then; once a
        second, put the queue file back if it was deleted or replaced (``keep_in_place``)."""
        for count in itertools.count(1):
            await asyncio.sleep(_TICK)
            try:
                self._refresh_progress()
                self._follow_clock()
                if count % _PLACE_EVERY == 0:
                    self.store.keep_in_place()
            except Exception:  # never let one bad refresh stop all progress reports
                log.exception("refreshing upload progress failed")

    def _follow_clock(self) -> None:
        """Retry timers run on the loop's clock, which stands still while a laptop sleeps;
        rows show wall-clock times. When the two part (a wake-up, a clock set by hand), each
        wait ends at the sooner of the two and its row shows that: a retry due during the
        night goes at the wake-up, not a minute later while its row says "retrying…", and a
        clock set back an hour does not show a wait of a minute as an hour away."""
        assert self._loop is not None
        offset = time.time() - self._loop.time()
        jump, self._clock_offset = offset - self._clock_offset, offset
        if abs(jump) < _CLOCK_JUMP:
            return
        log.info("the clock moved %+.0f s against the engine's; retry waits follow", jump)
        if jump > 0:  # a wake-up (or a clock set ahead): connections may have died meanwhile
            for connection in {self._connection, self._drainer} - {None}:
                assert connection is not None
                connection.woke(_WAKE_GRACE)
        now = time.time()
        for item_id, timer in list(self._timers.items()):
            record = self._records.get(item_id)
            if record is None or record.next_attempt_at is None:
                continue
            left = max(0.0, min(timer.when() - self._loop.time(), record.next_attempt_at - now))
            self._arm_retry(item_id, left)
            if abs(record.next_attempt_at - (now + left)) > 1.0:
                self._publish(self._update(item_id, next_attempt_at=now + left))

    def _refresh_progress(self) -> None:
        if self._live:
            self._total_meter.record(self._sent_now)
        now = time.monotonic()
        dirty, self._dirty = self._dirty, set()
        for item_id in dirty:
            record = self._records.get(item_id)
            if record is not None and record.state is S.UPLOADING:
                self._publish(record)
                if now - self._saved_at.get(item_id, 0.0) >= _SAVE_EVERY:
                    self._save_progress(item_id, in_flight=True)

    def _save_progress(self, item_id: int, *, in_flight: bool = False) -> None:
        """Write bytes sent and the prefix fingerprint (checked before resuming).

        ``in_flight``: a request is under way, and the bytes it has sent are not on the
        server until it answers (a cut chunk is sent again whole). Saved is only what the
        server confirmed (the fingerprint's offset), so that after a crash the row shows
        what the server holds, not more that it then loses on resuming. Once a request
        has ended, progress is the server's offset already (``TusClient.upload_file``).
        """
        record = self._records.get(item_id)
        job = self._jobs.get(item_id)
        if record is None or not (record.upload_url or (job and job.upload_url)):
            return  # nothing on the server to resume yet (a small file in one request)
        sent = self._live.get(item_id, record.bytes_sent)
        changes: dict[str, Any] = {"bytes_sent": sent}
        if job is not None:
            fingerprint = job.fingerprint()
            if fingerprint is not None:
                changes["prefix_offset"], changes["prefix_sha256"] = fingerprint
            if in_flight and job.hasher is not None:
                changes["bytes_sent"] = min(sent, fingerprint[0] if fingerprint else 0)
        self._saved_at[item_id] = time.monotonic()
        self._update(item_id, **changes)

    def _server_offset(self, item_id: int, offset: int) -> None:
        """What HEAD said before resuming: the truth, whatever was saved locally."""
        if offset > 0:
            self._resumed[item_id] = offset
        else:
            self._resumed.pop(item_id, None)
        self._update(item_id, upload_offset=offset, bytes_sent=offset)
        self._live[item_id] = offset
        self._dirty.add(item_id)

    def _on_progress(self, item_id: int, sent: int) -> None:
        if self._server_status is not None and not self._server_status.reachable:
            # Bytes taken by the server: it is back, not only once a whole file is done.
            self._emit_status(ServerStatus(True, "Connected."))
        self._sent_now += max(0, sent - self._live.get(item_id, sent))
        self._live[item_id] = sent
        meter = self._meters.get(item_id)
        if meter is None:
            meter = self._meters[item_id] = SpeedMeter()
        meter.record(sent)
        self._dirty.add(item_id)

    # ------------------------------------------------------------------ loop: scheduling

    def _spawn(self, coro: Any, keep: set[asyncio.Task[Any]]) -> None:
        """A task with a reference held until it ends (the loop keeps only weak ones)."""
        assert self._loop is not None
        task = self._loop.create_task(coro)
        keep.add(task)
        task.add_done_callback(keep.discard)

    def _kick(self) -> None:
        if self._pump_scheduled or self._stopping or self._loop is None:
            return
        self._pump_scheduled = True
        self._loop.call_soon(self._pump)

    def _pump(self) -> None:
        self._pump_scheduled = False
        if self._stopping:
            return
        assert self._pool is not None
        key = self.server_key
        room = self._prepare_limit - len(self._preparing)
        if room > 0 and self._waiting[S.QUEUED]:
            with contextlib.closing(self._waiting[S.QUEUED].ascending()) as queued:
                chosen = list(itertools.islice(
                    (i for i in queued
                     if i not in self._preparing and self._records[i].server_key == key
                     and i not in self._held),
                    room))
            for item_id in chosen:
                self._start_prepare(item_id)
        if self._auth_paused or not self._waiting[S.READY]:
            return
        active = {i: self._records[i].upload_size for i in self._tasks}
        if not self._lanes.has_room(active):
            return
        # The same content for the same place, twice in one drop: one goes, the other
        # waits and is then found already uploaded.
        sending = {_content_key(self._records[i]) for i in self._tasks}

        def candidates(ids: Iterator[int]) -> Iterator[tuple[int, int | None]]:
            for i in ids:
                record = self._records[i]
                if i in self._tasks or record.server_key != key or i in self._held:
                    continue
                content = _content_key(record)
                if content is not None:
                    if content in sending:
                        self._held_twins.add(i)
                        continue
                    sending.add(content)
                yield i, record.upload_size

        with contextlib.closing(self._waiting[S.READY].ascending()) as ids:
            picked = self._lanes.pick(candidates(ids), active)
        for item_id in picked:
            self._start_upload(item_id)

    def _arm_retry(self, item_id: int, delay: float) -> None:
        assert self._loop is not None
        old = self._timers.pop(item_id, None)
        if old is not None:
            old.cancel()
        self._timers[item_id] = self._loop.call_later(delay, self._retry_due, item_id)

    def _retry_due(self, item_id: int) -> None:
        self._timers.pop(item_id, None)
        if self._stopping:
            return
        record = self._records.get(item_id)
        if record is None or record.state is not S.FAILED or record.next_attempt_at is None:
            return
        target = S.READY if record.validated_at is not None else S.QUEUED
        self._set_state(item_id, target, next_attempt_at=None)

    # ------------------------------------------------------------------ loop: validation lane

    def _start_prepare(self, item_id: int) -> None:
        self._preparing.add(item_id)
        self._set_state(item_id, S.VALIDATING, reason_code=None, reason_message=None)
        assert self._loop is not None
        self._spawn(self._prepare(item_id), self._prepare_tasks)

    async def _run_blocking(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        assert self._loop is not None
        return await self._loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    def _still(self, item_id: int, state: ItemState) -> ItemRecord | None:
        record = self._records.get(item_id)
        return record if record is not None and record.state is state else None

    def _still_for(self, item_id: int, state: ItemState, category: str) -> bool:
        """Still in ``state`` and in the category it was checked for; a category changed
        meanwhile sends it back to be checked under the new rules."""
        record = self._still(item_id, state)
        if record is None:
            return False
        if record.category != category:
            self._set_state(item_id, S.QUEUED)
            return False
        return True

    async def _prepare(self, item_id: int) -> None:
        try:
            await self._prepare_item(item_id)
        except Exception as exc:  # unreadable file, a validator bug: the item fails, not the engine
            if self._stopping:
                return
            log.info("preparing item %s failed: %s", item_id, exc)  # the item says why
            record = self._records.get(item_id)
            if record is not None and record.state in (S.VALIDATING, S.OPTIMIZING):
                error = classify_exception(exc)
                self._set_state(item_id, S.FAILED, reason_code="unreadable",
                                reason_message=error.message, retryable=False)
        finally:
            self._preparing.discard(item_id)
            self._kick()

    async def _prepare_item(self, item_id: int) -> None:
        record = self._records[item_id]
        checked: pipeline.Checked = await self._run_blocking(
            pipeline.check_file, Path(record.source_path), record.category, record.display_name,
            keep_body=BODY_MAX_BYTES)
        if not self._still_for(item_id, S.VALIDATING, record.category):
            return  # paused, cancelled, removed or put in another category meanwhile
        warnings = _merge(record.warnings, checked.warnings)
        common = {"size": checked.size, "mtime": checked.mtime, "mime_type": checked.mime_type,
                  "warnings": warnings}
        if not checked.accepted:
            reason = checked.reason or Reason("rejected", "Not accepted.")
            self._set_state(item_id, S.REJECTED, reason_code=reason.code,
                            reason_message=reason.message, retryable=False, **common)
            return
        sha256 = checked.sha256
        optimized: pipeline.Optimized | None = None
        # With optimization off a photo is still sent without its location when that is on.
        if checked.optimizable and (self.config.optimize_images or self.config.strip_location):
            self._set_state(item_id, S.OPTIMIZING, **common)
            out_dir = paths.optimized_cache_dir()
            try:
                optimized = await self._run_blocking(
                    pipeline.optimize_copy, Path(record.source_path), out_dir,
                    max_edge=self.config.max_image_edge, quality=self.config.image_quality,
                    strip_location=self.config.strip_location,
                    shrink=self.config.optimize_images)
            except Exception as exc:  # a picture Pillow cannot re-encode is sent as it is
                log.info("optimizing item %s failed, sending the original: %s", item_id, exc)
                warnings = _merge(warnings, (Reason("not_optimized",
                                                    "Could not shrink this picture; "
                                                    "the original is sent."),))
            if not self._still_for(item_id, S.OPTIMIZING, record.category):
                return
            if optimized is not None:
                sha256 = optimized.sha256
                warnings = _merge(warnings, optimized.warnings)
        record = self._set_state(
            item_id, S.READY, validated_at=time.time(), sha256=sha256,
            optimized_path=str(optimized.path) if optimized else None,
            optimized_size=optimized.size if optimized else None,
            **{**common, "warnings": warnings},
        )
        if sha256 is not None and self._mark_if_duplicate(record):
            return
        if checked.body is not None and optimized is None and record.state is S.READY:
            self._bodies.put(item_id, checked.body)

    def _mark_if_duplicate(self, record: ItemRecord) -> bool:
        if record.sha256 is None:
            return False
        account = self._target().account
        twin = self.store.find_done(record.server_key, record.sha256, record.relative_path,
                                    record.category, exclude=record.id, account=account)
        if twin is None:
            return False
        self._set_state(
            record.id, S.DONE, file_url=twin.file_url, bytes_sent=record.upload_size or 0,
            account=twin.account or account,
            reason_code=ALREADY_UPLOADED,
            reason_message=f"{record.relative_path} is already on the server; not sent again.",
            warnings=_merge(record.warnings, (Reason(ALREADY_UPLOADED,
                                                     "Already uploaded earlier."),)),
        )
        self._check_still_there(self._records[record.id])  # the copy there may be deleted
        return True

    # ------------------------------------------------------------------ loop: upload lane

    def _start_upload(self, item_id: int) -> None:
        assert self._connection is not None and self._loop is not None
        if item_id in self._held_twins:
            self._held_twins.discard(item_id)
            if self._mark_if_duplicate(self._records[item_id]):
                return
        body = self._bodies.take(item_id)
        record = self._set_state(item_id, S.UPLOADING, reason_code=None, reason_message=None,
                                 next_attempt_at=None)
        account = self._connection.target.account
        job = UploadJob(
            record, self._connection, body=body,
            on_progress=lambda sent: self._on_progress(item_id, sent),
            on_url=lambda url, path: self._upload_created(item_id, record.server_key, url,
                                                          path),
            on_offset=lambda offset: self._server_offset(item_id, offset),
            find_twin=lambda sha: self.store.find_done(record.server_key, sha,
                                                       record.relative_path, record.category,
                                                       exclude=item_id, account=account),
            has_twin_candidates=lambda size: bool(self.store.find_done_candidates(
                record.server_key, record.relative_path, size, record.category,
                exclude=item_id, account=account)),
        )
        self._jobs[item_id] = job
        self._live[item_id] = record.bytes_sent
        self._tasks[item_id] = self._loop.create_task(self._upload(item_id, job))

    async def _upload(self, item_id: int, job: UploadJob) -> None:
        try:
            try:
                outcome = await job.run(
                    on_verifying=lambda: self._set_state(item_id, S.VERIFYING))
            except TransferError as error:
                self._after_error(item_id, error, job)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("upload of item %s failed unexpectedly", item_id)
                self._after_error(item_id, classify_exception(exc), job)
                return
            await self._after_outcome(item_id, outcome, job)
        finally:
            self._tasks.pop(item_id, None)
            self._jobs.pop(item_id, None)
            if job.then is not None and not self._stopping:
                # A command given while the request wound down: it wins now. Counted as a
                # command so that ``wait_idle`` does not end on the state in between.
                with self._idle:
                    self._pending_commands += 1
                try:
                    job.then()
                finally:
                    with self._idle:
                        self._pending_commands -= 1
            if not self._jobs:
                with self._idle:
                    self._idle.notify_all()
            self._kick()

    def _upload_created(self, item_id: int, server_key: str, url: str,
                        path: str | None) -> None:
        if item_id in self._records:
            self._update(item_id, upload_url=url, upload_path=path)
        else:  # removed while the creation was on its way: nothing may stay on the server
            self._terminate_later(server_key, url, path)

    async def _after_outcome(self, item_id: int, outcome: object, job: UploadJob) -> None:
        record = self._records.get(item_id)
        if record is None:
            return
        if self._server_status is not None and not self._server_status.reachable:
            self._emit_status(ServerStatus(True, "Connected."))
        if isinstance(outcome, Uploaded | AlreadyUploaded):
            changes: dict[str, Any] = {
                "sha256": outcome.sha256, "file_url": outcome.file_url,
                "bytes_sent": record.upload_size or 0, "retryable": False,
                "upload_offset": record.upload_size or 0, "next_attempt_at": None,
                "interrupted": False, "account": job.connection.target.account,
            }
            if isinstance(outcome, AlreadyUploaded):
                changes.update(reason_code=ALREADY_UPLOADED, reason_message=outcome.message)
            elif outcome.upload_url and not record.upload_url:
                changes.update(upload_url=outcome.upload_url, upload_path=outcome.upload_path)
            done = self._set_state(item_id, S.DONE, **changes)
            if isinstance(outcome, AlreadyUploaded) and job.upload_url is None:
                # Found in the queue, not told by the server: the copy there may be deleted.
                self._check_still_there(done)
        elif isinstance(outcome, SourceChanged) and outcome.missing:
            self._source_missing(item_id, job)
        elif isinstance(outcome, SourceChanged):
            self._start_over(item_id, job, outcome.message)
        elif isinstance(outcome, Stopped):
            self._after_stop(item_id, outcome.why, job)

    def _after_stop(self, item_id: int, why: str, job: UploadJob) -> None:
        record = self._records.get(item_id)
        if record is None or record.state not in (S.UPLOADING, S.VERIFYING):
            return
        self._save_progress(item_id)
        interrupted = job.still_unsure(record)
        if record.state is S.VERIFYING and why in ("pause", "auth", "cancel"):
            # The server holds every byte; only its check was cut. The table has no way
            # from verifying to paused or cancelled: ready first (the next try checks it
            # again), and a cancel is too late for a file the server already has.
            self._set_state(item_id, S.READY, interrupted=interrupted)
            if why == "cancel":
                return
        if why == "pause":
            self._set_state(item_id, S.PAUSED, interrupted=interrupted)
        elif why == "auth":
            self._set_state(item_id, S.PAUSED, reason_code="sign_in_needed",
                            reason_message="Waiting for you to sign in again.", retryable=True,
                            interrupted=interrupted)
        elif why == "cancel":
            self._set_state(item_id, S.CANCELLED, upload_url=None, upload_path=None)
            self._terminate_later(*_upload_of(record, job))
        elif why == "switch":  # another server was chosen: resumable when it is back
            self._set_state(item_id, S.READY, interrupted=True)
        # "stop": left to _shutdown (back to ready)

    def _source_missing(self, item_id: int, job: UploadJob) -> None:
        """The file is not where it was (a USB stick pulled out, a share gone, a folder
        renamed): stop here but keep the part on the server. Retried once the file is
        back, the upload carries on from the server's offset after the usual check of the
        part already sent; a file that changed meanwhile is sent again then."""
        record = self._records[item_id]
        self._save_progress(item_id)
        self._set_state(
            item_id, S.FAILED, retryable=True, next_attempt_at=None,
            reason_code="source_missing",
            reason_message=f"{record.source_path} is no longer there or cannot be reached "
                           "(moved, deleted, or on a drive or share that went away); put it "
                           "back and retry to carry on.",
            interrupted=job.still_unsure(record))

    def _start_over(self, item_id: int, job: UploadJob | None, message: str) -> None:
        """Throw the server-side upload away and send the file again from its first byte."""
        record = self._records[item_id]
        self._terminate_later(*_upload_of(record, job))
        changes: dict[str, Any] = {
            "upload_url": None, "upload_path": None, "upload_offset": 0, "bytes_sent": 0,
            "prefix_offset": 0, "prefix_sha256": None, "sha256": None,
        }
        changes["warnings"] = _merge(record.warnings, (Reason("source_changed", message),))
        # Back to validation: the file's content (and maybe its type) is not what was checked.
        self._set_state(item_id, S.QUEUED, validated_at=None, **changes)

    def _terminate_later(self, server_key: str, url: str | None, path: str | None) -> None:
        """Delete a given-up upload on its server. It is noted in the store first, so a stop
        or a crash before the DELETE leaves it for the next run; and it is sent only over
        that server's own connection (its address, its token): an upload of another server
        waits until that server is chosen again."""
        if url is None and path is None:
            return
        try:
            self.store.abandon_upload(server_key, url, path)
        except sqlite3.Error as exc:  # the store is full: it expires on the server instead
            log.warning("could not note %s to delete: %s", url or path, exc)
            return
        self._drain_abandoned()

    def _drain_abandoned(self) -> None:
        connection = self._connection
        if connection is None or self._loop is None or not connection.target.configured:
            return
        if self._drainer is connection:  # already at it: one more pass when done
            self._drain_again = True
            return
        self._drainer = connection
        self._drain_again = False
        self._spawn(self._drain(connection), self._background)

    async def _drain(self, connection: Connection) -> None:
        try:
            while True:
                self._drain_again = False
                for upload in self.store.abandoned_uploads(connection.target.server_key):
                    url = upload.url_on(connection.target.endpoint)
                    outcome = "done" if url is None else await _terminate(connection, url)
                    if outcome == "offline":
                        return  # unreachable now: the rest is tried on the next start
                    if outcome == "done":
                        self.store.forget_abandoned([upload.id])
                    # "later" (busy, a server error): this one waits, the others go on
                if not self._drain_again or connection is not self._connection:
                    return
        except sqlite3.Error as exc:  # a full disk: left for the next pass or start
            log.warning("could not go through the uploads to delete: %s", exc)
        finally:
            if self._drainer is connection:
                self._drainer = None

    def _after_error(self, item_id: int, error: TransferError, job: UploadJob) -> None:
        record = self._records.get(item_id)
        if record is None or record.state not in (S.UPLOADING, S.VERIFYING):
            return
        if job.stop_reason is not None and not (
                record.state is S.VERIFYING and job.stop_reason == "cancel"):
            # The error came from our own pause/cancel (or met one while the file was
            # checked: a cancel is too late then, the error is handled as it is).
            self._after_stop(item_id, job.stop_reason, job)
            return
        if error.kind in (ErrorKind.RESTART, ErrorKind.FATAL):
            # A file cut short mid-chunk ("became shorter"), or a read that failed because
            # its share went away: the file's doing, not the server's. Not a restart spent
            # (that one is for a server losing the upload) nor a failure for good.
            changed = pipeline.source_changed(record)
            if changed == "missing":
                self._source_missing(item_id, job)
                return
            if changed is not None:
                self._start_over(item_id, job, _CHANGED_WHILE_SENDING)
                return
        self._save_progress(item_id)
        attempts = record.attempts + 1
        decision = decide(error, attempts=attempts, restarts=record.restarts)
        reason = decision.reason
        log.info("item %s: %s (%s) -> %s", item_id, error.message, error.kind, decision.action)
        if error.kind is ErrorKind.OFFLINE:
            self._emit_status(ServerStatus(False, "The server cannot be reached."))
        if decision.action is Action.RETRY:
            assert decision.delay is not None
            self._set_state(item_id, S.FAILED, attempts=attempts, retryable=True,
                            reason_code=reason.code, reason_message=reason.message,
                            next_attempt_at=time.time() + decision.delay,
                            interrupted=job.still_unsure(record))
            self._arm_retry(item_id, decision.delay)
        elif decision.action is Action.RESTART:
            self._update(item_id, restarts=record.restarts + 1, attempts=attempts)
            warning = Reason(reason.code, reason.message)
            self._set_state(item_id, S.READY, upload_url=None, upload_path=None,
                            upload_offset=0, bytes_sent=0, prefix_offset=0, prefix_sha256=None,
                            warnings=_merge(record.warnings, (warning,)))
            self._terminate_later(*_upload_of(record, job))
        elif decision.action is Action.SIGN_IN:
            self._auth_paused = True
            if record.state is S.VERIFYING:  # no way to paused but through ready
                self._set_state(item_id, S.READY)
            self._set_state(item_id, S.PAUSED, reason_code=reason.code,
                            reason_message=reason.message, retryable=True)
            self._emit_status(ServerStatus(True, reason.message, needs_sign_in=True))
            for other_id, other in self._jobs.items():
                if other_id != item_id:
                    other.stop("auth")
        else:
            self._set_state(item_id, S.FAILED, attempts=attempts, retryable=decision.retryable,
                            reason_code=reason.code, reason_message=reason.message,
                            next_attempt_at=None)

    # ------------------------------------------------------------------ loop: commands

    def _add_paths(self, paths_: list[Path], category: str | None,
                   recategorize: bool = False) -> None:
        assert self._loop is not None
        with self._idle:
            self._pending_commands += 1
        future = self._loop.run_in_executor(self._pool, _walk, paths_)
        self._walks.add(future)
        future.add_done_callback(self._walks.discard)

        def done(fut: asyncio.Future[tuple[list[tuple[Path, str, Reason | None]],
                                           WalkTally]]) -> None:
            try:
                if fut.cancelled():  # never read: given up at stop (``_finish_drops`` said so)
                    return
                found, tally = fut.result()
                if not self._stopping:
                    with _collector_paused(len(found) >= _BULK_ADD):
                        counts, problem = self._add_files(
                            found, category or self.config.default_category, recategorize)
                    if self._dispatcher is not None:  # after the drop's ItemsAdded
                        self._dispatcher.emit(DropFinished(
                            tuple(str(p) for p in paths_), skipped=tally.skipped,
                            problem=problem,
                            own_folders=tuple(str(p) for p in tally.own_folders), **counts))
            except sqlite3.Error as exc:
                log.warning("could not queue the dropped files: the upload queue cannot be "
                            "saved (%s); trying again", exc)
                self._refused_drops.append((paths_, category, recategorize))
                self._refused_later(exc)
            except Exception as exc:
                log.warning("could not read the dropped paths: %s", exc)
            finally:
                with self._idle:
                    self._pending_commands -= 1
                    self._idle.notify_all()

        future.add_done_callback(done)

    async def _finish_drops(self, grace: float) -> None:
        """Queue what the folders still being read hold, within ``grace`` seconds (their
        files are added as the reading of each ends). Those still unread are given up,
        said in the log: nothing of them was queued yet."""
        unread: set[asyncio.Future[Any]] = set(self._walks)
        if grace > 0:
            _, unread = await asyncio.wait(set(self._walks), timeout=grace)
        if unread:
            log.warning("%d dropped folder(s) were still being read when the queue stopped; "
                        "their files were not added: drop them again", len(unread))

    def _refused_later(self, cause: sqlite3.Error) -> None:
        """A drop or a removal the store refused is done again later, with a growing
        pause: the teacher asked once and should not have to notice and ask again."""
        assert self._loop is not None
        self._queue_refused(queue_refusal(cause))
        if self._refused_timer is None and not self._stopping:
            self._refused_timer = self._loop.call_later(self._refused_delay,
                                                        self._retry_refused)
            self._refused_delay = min(_REFUSED_MAX_DELAY, self._refused_delay * 2)

    def _retry_refused(self) -> None:
        self._refused_timer = None
        drops, self._refused_drops = self._refused_drops, []
        removals, self._refused_removals = self._refused_removals, set()
        if removals:  # refused again: kept again
            self._remove([i for i in removals if i in self._records])
        for paths_, category, recategorize in drops:
            self._add_paths(paths_, category, recategorize)

    def _add_files(self, found: list[tuple[Path, str, Reason | None]], category: str,
                   recategorize: bool = False) -> tuple[dict[str, int], str]:
        """Queue the walk's files; returns how many went which way (``DropFinished``'s
        counts, by field name) and the first unreadable file's reason."""
        server_key = self.server_key
        counts = dict.fromkeys(("added", "picked_up", "already_queued", "already_done",
                                "missing", "unreadable"), 0)
        problem = ""
        added: list[ItemSnapshot] = []
        problems: list[tuple[int, Reason]] = []
        new: list[NewItem] = []
        errors: list[Reason | None] = []
        queued_now: set[str] = set()  # a file named twice in one drop is handled once
        for path, relative, error in found:
            source = printable_name(str(path))  # the walk refused a name that is not text
            if source in queued_now:
                continue
            queued_now.add(source)
            not_opened = _NOT_OPENED.get(error.code) if error is not None else None
            if not_opened is not None:
                assert error is not None
                counts[not_opened] += 1
                if not problem:
                    problem = error.message
            existing = self.store.find_by_source(server_key, source)
            if (existing is not None and existing.id in self._records
                    and not self._sent_elsewhere(existing, printable_name(relative), category,
                                                 recategorize)):
                if error is not None and existing.state is S.REJECTED:
                    continue  # the walk refuses it again (a loop, a name that is not text)
                if existing.category != category and existing.state is not S.DONE and (
                        recategorize or existing.state is S.REJECTED):
                    self._set_category(existing.id, category)
                    existing = self._records[existing.id]
                if existing.relative_path != printable_name(relative) and not (
                        existing.upload_url or existing.bytes_sent):
                    # Dropped again from another folder before anything was sent: the new
                    # place is where it goes.
                    existing = self._update(existing.id, relative_path=printable_name(relative))
                    self._publish(existing)
                how = self._readd(existing)
                if not_opened is None:
                    counts[how] += 1
                continue
            try:
                size, mtime = pipeline.file_stat(path)
            except OSError:
                size, mtime = None, None
            new.append(NewItem(server_key, source, printable_name(relative),
                               printable_name(path.name), category, size, mtime))
            errors.append(error)
            if not_opened is None:
                counts["added"] += 1
        records = self.store.add_many(new)
        self._refused_delay = _REFUSED_FIRST_DELAY
        if new:
            self._queue_saved()
        for record, error in zip(records, errors, strict=True):
            self._remember(record)
            snap = self._snap(record)
            with self._idle:
                self._store_snapshot(snap)
            added.append(snap)
            if error is not None:
                problems.append((record.id, error))
        if added and self._dispatcher is not None:
            self._dispatcher.emit(ItemsAdded(tuple(added)))
            self._dispatcher.batch_changed()
        for item_id, reason in problems:  # unreadable, a broken link: shown, never sent
            self._set_state(item_id, S.VALIDATING)
            self._set_state(item_id, S.REJECTED, reason_code=reason.code,
                            reason_message=reason.message)
        with self._idle:
            self._idle.notify_all()
        self._kick()
        return counts, problem

    def _copies_for_refused_token(self, records: Iterable[ItemRecord]) -> dict[int, ItemRecord]:
        """Items made for a token the server then refused, each with the done item of the
        current token's account it copies.

        A done file asked for with another token gets a new item, as another account's
        upload (``_sent_elsewhere``); a mistyped token looks the same until the server
        refuses it (401/403), and the item waits for a sign-in. Once a token whose account
        has the file, unchanged, is back, that item would send it again as a second row:
        the done item stands for it instead (one row per file). Only items without an
        upload of their own qualify: a body that went out with a refused token was not
        stored (its ``interrupted`` mark says only that no answer was read), so removing
        them loses nothing."""
        account = self._target().account
        key = self.server_key
        if account is None:  # no token: no account, and nothing was made for another
            return {}
        records = list(records)
        waiting = [r for r in records if r.server_key == key and r.state is S.PAUSED
                   and r.reason_code == "sign_in_needed" and r.id not in self._jobs
                   and not (r.upload_url or r.upload_path)]
        if not waiting:
            return {}
        done: dict[tuple[str, str, str], ItemRecord] = {}
        for record in records:
            if (record.state is S.DONE and record.account == account
                    and record.server_key == key and record.reason_code != REMOVED_FROM_SERVER):
                done.setdefault((record.source_path, record.relative_path, record.category),
                                record)
        copies: dict[int, ItemRecord] = {}
        for record in waiting:
            twin = done.get((record.source_path, record.relative_path, record.category))
            if (twin is not None and twin.id < record.id
                    and pipeline.source_changed(twin) is None):
                copies[record.id] = twin
        return copies

    def _sent_elsewhere(self, record: ItemRecord, relative_path: str, category: str,
                        recategorize: bool) -> bool:
        """A done file asked for again somewhere it is not: another account on the same
        server, another place in the folder tree, or (asked for by name) another category.
        It is a new upload there; its item stays as the record of the first."""
        return record.state is S.DONE and (
            record.went_elsewhere(self._target().account)
            or record.relative_path != relative_path
            or (recategorize and record.category != category))

    def _readd(self, record: ItemRecord) -> str:
        """The same file dropped again (or the same command run again): reuse its item.
        Returns the ``DropFinished`` count it goes to."""
        held = record.id in self._held
        if held:  # asked for again: this run's to finish after all
            self._held.discard(record.id)
            with self._idle:
                snap = self._snapshots.get(record.id)
                if snap is not None:
                    self._store_snapshot(snap)
        if record.state is S.DONE:
            changed = pipeline.source_changed(record)
            if changed is None:
                self._check_still_there(record)  # unchanged: done, unless removed there
            elif changed != "missing":  # gone from the disk: what was sent stays done
                self._queue_again(record)  # changed since: a new version to send
                return "added"
            return "already_done"
        if record.state in (S.FAILED, S.CANCELLED, S.REJECTED):
            self._retry([record.id])
            return "picked_up"
        if record.state is S.PAUSED and not self._auth_paused:
            self._resume([record.id])
            return "picked_up"
        return "picked_up" if held else "already_queued"

    def _queue_again(self, record: ItemRecord, warning: Reason | None = None) -> None:
        """Send a done file again, under a new item (the old one stays as history)."""
        try:
            size, mtime = pipeline.file_stat(Path(record.source_path))
        except OSError:  # gone again meanwhile: its check says so on the new row
            size, mtime = None, None
        new = self.store.add(server_key=record.server_key, source_path=record.source_path,
                             relative_path=record.relative_path,
                             display_name=record.display_name, category=record.category,
                             size=size, mtime=mtime)
        if warning is not None:
            new = self._update(new.id, warnings=[warning])
        self._remember(new)
        snap = self._snap(new)
        with self._idle:
            self._store_snapshot(snap)
        if self._dispatcher is not None:  # added, as a drop's items are: not "changed"
            self._dispatcher.emit(ItemsAdded((snap,)))
            self._dispatcher.batch_changed()
        self._kick()

    def _check_still_there(self, record: ItemRecord) -> None:
        """A done file dropped again is sent again if it was deleted on the toolbox server
        since (a teacher who removed it by mistake drops it back); so is a file found
        "already uploaded" through another row (a copy of the folder, or the file sent to
        another account in between) whose copy on the server is gone. One request per
        file; any other answer, or none (offline), leaves it done. A plain tus server
        cannot be asked.

        The file is named by its link's path only: the built-in server keeps its queue
        name ("local") when it moves to another port, and its old links still name its
        files. A server that does not answer ends the checks still waiting (they stay
        done) instead of each waiting out its own timeout: a re-dropped folder of 1,000
        would otherwise keep the queue busy for an hour."""
        connection = self._connection
        api = connection.api if connection is not None else None
        base = connection.target.server_url if connection is not None else None
        if (api is None or base is None or connection is None or record.id in self._checks
                or record.server_key != self.server_key):
            return
        file_id = _file_id(record.file_url, base)
        if file_id is None:
            return
        assert self._loop is not None and self._check_slots is not None
        slots = self._check_slots

        async def check() -> None:
            try:
                async with slots:
                    if self._checks_unanswered.get(connection, 0.0) > time.monotonic():
                        return  # the server did not answer a check just now
                    async with asyncio.timeout(_CHECK_TIMEOUT):
                        await api.get_file(file_id)
            except TransferError as error:
                if error.status in (404, 410) and not self._stopping:
                    self._removed_from_server(record, file_id)
                elif error.kind in (ErrorKind.OFFLINE, ErrorKind.TRANSIENT):
                    self._checks_unanswered[connection] = time.monotonic() + _CHECK_HOLD
            except TimeoutError:
                self._checks_unanswered[connection] = time.monotonic() + _CHECK_HOLD
            finally:
                self._checks.pop(record.id, None)
                with self._idle:
                    self._idle.notify_all()

        self._checks[record.id] = self._loop.create_task(check())

    def _removed_from_server(self, record: ItemRecord, file_id: str) -> None:
        current = self.store.find_by_source(record.server_key, record.source_path)
        if current is None or current.id != record.id:
            return  # sent again meanwhile
        base = self._target().server_url
        # No longer a copy on the server that others may count as theirs (``find_done``):
        # nor are the rows that found it "already uploaded" (the same file from a copy of
        # the folder), else the file sent again would be found already there through them.
        for other in list(self._records.values()):
            if (other.id != record.id and other.state is S.DONE
                    and other.server_key == record.server_key
                    and other.reason_code != REMOVED_FROM_SERVER and base is not None
                    and _file_id(other.file_url, base) == file_id):
                self._publish(self._update(other.id, reason_code=REMOVED_FROM_SERVER,
                                           reason_message="Deleted on the server since."))
        self._publish(self._update(record.id, reason_code=REMOVED_FROM_SERVER,
                                   reason_message="Deleted on the server since; sent again."))
        self._queue_again(record, Reason(REMOVED_FROM_SERVER, "It had been deleted on the "
                                         "server since it was uploaded; sent again."))

    def _pause(self, ids: list[int]) -> None:
        for item_id in ids:
            record = self._records.get(item_id)
            if record is None:
                continue
            job = self._jobs.get(item_id)
            if job is not None:
                job.stop("pause")  # the task moves it to paused when the request winds down
            elif record.state in (S.QUEUED, S.VALIDATING, S.OPTIMIZING, S.READY):
                self._set_state(item_id, S.PAUSED)
            elif record.state is S.FAILED and record.next_attempt_at is not None:
                self._cancel_timer(item_id)
                self._set_state(item_id, S.READY if record.validated_at else S.QUEUED,
                                next_attempt_at=None)
                self._set_state(item_id, S.PAUSED)

    def _resume(self, ids: list[int]) -> None:
        for item_id in ids:
            record = self._records.get(item_id)
            job = self._jobs.get(item_id)
            if job is not None and job.stop_reason in ("pause", "auth"):
                job.then = functools.partial(self._resume, [item_id])  # once it is paused
                continue
            if record is None or record.state is not S.PAUSED:
                continue
            target = S.READY if record.validated_at is not None else S.QUEUED
            self._set_state(item_id, target, reason_code=None, reason_message=None)

    def _resume_all(self) -> None:
        self._auth_paused = False
        self._resume([i for i, r in self._records.items() if r.state is S.PAUSED])

    def _cancel(self, ids: list[int]) -> None:
        for item_id in ids:
            record = self._records.get(item_id)
            if record is None or record.state in (S.DONE, S.CANCELLED, S.REJECTED):
                continue
            self._cancel_timer(item_id)
            job = self._jobs.get(item_id)
            if job is not None:
                job.stop("cancel")
                continue
            if record.state is S.VERIFYING:
                continue  # finishing: too late to cancel
            self._set_state(item_id, S.CANCELLED, upload_url=None, upload_path=None,
                            next_attempt_at=None)
            self._terminate_later(*_upload_of(record, None))

    def _cancel_timer(self, item_id: int) -> None:
        timer = self._timers.pop(item_id, None)
        if timer is not None:
            timer.cancel()

    def _retry(self, ids: list[int]) -> None:
        for item_id in ids:
            record = self._records.get(item_id)
            job = self._jobs.get(item_id)
            if job is not None and job.stop_reason == "cancel":
                job.then = functools.partial(self._retry, [item_id])  # once it is cancelled
                continue
            if record is None or record.state not in (S.FAILED, S.CANCELLED, S.REJECTED):
                continue
            self._cancel_timer(item_id)
            resumable = record.state is S.FAILED and record.validated_at is not None
            self._set_state(item_id, S.READY if resumable else S.QUEUED,
                            next_attempt_at=None, reason_code=None, reason_message=None,
                            attempts=0, restarts=0, retryable=False)

    def _remove(self, ids: list[int]) -> None:
        try:
            removed = self.store.remove(ids)  # keeps their unfinished uploads to delete
        except sqlite3.Error as exc:  # the rows stay, and so do their uploads, for now
            log.warning("could not remove %d item(s) yet: %s", len(ids), exc)
            self._refused_removals.update(ids)
            self._refused_later(exc)
            return
        self._refused_delay = _REFUSED_FIRST_DELAY
        self._queue_saved()
        for item_id in removed:
            job = self._jobs.get(item_id)
            if job is not None:
                job.stop("cancel")
            self._cancel_timer(item_id)
        if removed:
            self._drain_abandoned()
        for item_id in removed:
            self._forget(item_id)
            self._live.pop(item_id, None)
            with self._idle:
                self._snapshots.pop(item_id, None)
                self._busy.discard(item_id)
        if removed and self._dispatcher is not None:
            self._dispatcher.emit(ItemsRemoved(tuple(removed)))
            self._dispatcher.batch_changed()
        with self._idle:
            self._idle.notify_all()

    def _set_category(self, item_id: int, category: str) -> None:
        """The new category's rules apply: the file is checked again, and an upload begun
        under the old category (its metadata says so) is thrown away and sent anew."""
        record = self._records.get(item_id)
        if record is None or record.state in (S.DONE, S.VERIFYING) or (
                record.category == category):
            return
        job = self._jobs.get(item_id)
        if job is None:
            self._recategorize(item_id, category)
            return
        # Uploading: wind the request down first, change, then do what was asked next.
        if job.stop_reason is None:
            job.stop("pause")
            job.then = functools.partial(self._resume, [item_id])
        after = job.then

        def then() -> None:
            self._recategorize(item_id, category)
            if after is not None:
                after()

        job.then = then

    def _recategorize(self, item_id: int, category: str) -> None:
        record = self._records.get(item_id)
        if record is None or record.state in (S.DONE, S.VERIFYING, S.UPLOADING):
            return
        changes: dict[str, Any] = {"category": category, "validated_at": None}
        if record.upload_url or record.upload_path:
            self._terminate_later(*_upload_of(record, None))
            changes.update(upload_url=None, upload_path=None, upload_offset=0, bytes_sent=0,
                           prefix_offset=0, prefix_sha256=None, interrupted=False)
        self._cancel_timer(item_id)
        # Validating or optimizing: the worker's verdict is for the old category; the
        # preparation notices the change and checks again.
        self._update(item_id, **changes)
        if record.state in (S.READY, S.FAILED, S.REJECTED):
            self._set_state(item_id, S.QUEUED, next_attempt_at=None, reason_code=None,
                            reason_message=None)
        else:
            self._publish(self._records[item_id])

    def _apply_limits(self) -> None:
        self._lanes.concurrency = max(1, self.config.concurrency)
        if self._connection is not None:
            self._connection.set_bandwidth(self.config.bandwidth_limit)
        self._kick()

    def _set_server(self, server_url: str | None, tus_endpoint: str | None,
                    token: str | None, server_key: str | None) -> None:
        with self._config_lock:
            self.config = replace(self.config, server_url=server_url,
                                  tus_endpoint=tus_endpoint, token=token,
                                  server_key=server_key)
        with self._idle:
            self._idle_key = self._target().server_key
            for snap in list(self._snapshots.values()):
                self._store_snapshot(snap)
        old = self._connection
        self._connection = self._connect()
        if old is not None and self._loop is not None:
            # The old server's uploads stop (resumable, as at a restart) before their
            # connection closes under them; they carry on when that server is chosen again.
            for job in self._jobs.values():
                if job.connection is old:
                    job.stop("switch")
            ending = [*self._tasks.values(), *self._background]
            self._spawn(_close_when_done(old, ending), self._background)
        self._drain_abandoned()  # given up while another server was chosen
        was_auth = self._auth_paused
        self._auth_paused = False
        self._server_status = None
        copies = self._copies_for_refused_token(self._records.values())
        if copies:  # made for a token now replaced by one whose account has the files
            self._remove(list(copies))
            for twin in {t.id: t for t in copies.values()}.values():
                self._check_still_there(twin)  # they were asked for again: still there?
        if was_auth:
            self._resume([i for i, r in self._records.items()
                          if r.state is S.PAUSED and r.reason_code == "sign_in_needed"])
        self._kick()


async def _terminate(connection: Connection, url: str) -> str:
    """DELETE one upload, trying a few times (423: the server still winds down the request
    just cut). "done" (deleted, gone already, or refused: nothing left to do), "offline"
    (the server cannot be reached) or "later" (it stayed busy or failed)."""
    for attempt in range(_TERMINATE_ATTEMPTS):
        try:
            await connection.terminate(url)
            return "done"
        except TransferError as error:
            if not error.retryable:
                log.info("could not terminate %s: %s", url, error.message)
                return "done"
            if attempt == _TERMINATE_ATTEMPTS - 1:
                log.info("could not terminate %s yet: %s", url, error.message)
                return "offline" if error.kind is ErrorKind.OFFLINE else "later"
            await asyncio.sleep(0.25 * 2 ** attempt)
        except RuntimeError as exc:  # its connection was closed under it (a server switch)
            log.info("could not terminate %s now: %s", url, exc)
            return "offline"
    return "later"


def _upload_of(record: ItemRecord, job: UploadJob | None) -> tuple[str, str | None, str | None]:
    """The server-side upload an item (or its job, which may have just created one) has."""
    if job is not None and job.upload_url and job.upload_url != record.upload_url:
        # Its path below the endpoint too: at a later run the built-in server may listen
        # elsewhere, and whatever took its old port must not get the DELETE and the token.
        path = relative_upload_path(job.connection.target.endpoint, job.upload_url)
        return record.server_key, job.upload_url, path
    return record.server_key, record.upload_url, record.upload_path


async def _close_when_done(connection: Connection, tasks: list[asyncio.Task[Any]]) -> None:
    if tasks:
        await asyncio.wait(tasks, timeout=_SWITCH_WAIT)
    await connection.aclose()


def _wait_left(record: ItemRecord, now: float) -> float:
    """How long a stored retry still waits. The wait chosen was ``next_attempt_at -
    updated_at`` (both read from the same clock when it was saved); a clock set back since
    (a laptop ahead until it synced) must not stretch it to days."""
    assert record.next_attempt_at is not None
    chosen = max(0.0, record.next_attempt_at - record.updated_at)
    return min(max(0.0, record.next_attempt_at - now), chosen)


def _file_id(file_url: str | None, server_url: str) -> str | None:
    """The toolbox server's id of the file behind a done item's link, whatever address
    the server had when it gave the link; ``None`` for a link that names no such file."""
    if not file_url:
        return None
    prefix = urlsplit(file_page(server_url, "")).path
    path = urlsplit(file_url).path
    if not path.startswith(prefix) or "/" in path[len(prefix):] or path == prefix:
        return None
    return unquote(path[len(prefix):])


def _content_key(record: ItemRecord) -> tuple[str, str, str] | None:
    """What makes two items the same file on the server, once the content's hash is known."""
    if record.sha256 is None:
        return None
    return record.sha256, record.relative_path, record.category


def _counts_live(state: ItemState) -> bool:
    """Whether an item's bytes sent count towards the batch (not finished, failed or dropped)."""
    return state not in (S.CANCELLED, S.DONE, S.FAILED, S.REJECTED)


@dataclass
class _Totals:
    """Batch totals over the stored records; ``count(record, ±1)`` adds or takes one away."""

    total: int = 0
    done: int = 0
    failed: int = 0
    bytes_total: int = 0
    bytes_done: int = 0  # bytes_sent as stored; live progress is added on top

    def count(self, record: ItemRecord, sign: int) -> None:
        state = record.state
        if state is S.CANCELLED or record.reason_code == REMOVED_FROM_SERVER:
            # A done file deleted on the server since is history: the row that sends it
            # again counts it ("8 of 11 files" for 10 files, 7 of them sent, otherwise).
            return
        self.total += sign
        size = record.upload_size or 0
        if state is S.DONE:
            self.done += sign
            self.bytes_total += sign * size
            self.bytes_done += sign * size
        elif state is S.REJECTED or (state is S.FAILED and record.next_attempt_at is None):
            self.failed += sign
        else:
            self.bytes_total += sign * size
            self.bytes_done += sign * record.bytes_sent


def _merge(old: Iterable[Reason], new: Iterable[Reason]) -> list[Reason]:
    merged = list(old)
    for reason in new:
        if reason not in merged:
            merged.append(reason)
    return merged


def _walk(paths_: list[Path]) -> tuple[list[tuple[Path, str, Reason | None]], WalkTally]:
    """Files under the dropped paths, with the path relative to the dropped folder, and
    what was skipped (hidden or system files and folders, the app's own folders)."""
    from toolbox_uploader.core.walk import walk_paths

    tally = WalkTally()
    found = [(entry.path.absolute(), entry.relative_path, entry.error)
             for entry in walk_paths(paths_, tally)]
    return found, tally
