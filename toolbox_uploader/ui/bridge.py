"""The one place where engine events cross into the GUI thread.

The engine calls its listeners on the engine thread. ``EngineBridge.listener`` only hands the
batch over with a signal; because the bridge lives in the GUI thread, Qt queues that signal
(a queued connection), so nothing touches widgets off the GUI thread. On the GUI side the
batches are merged — only the latest snapshot of each item and the latest totals survive —
and flushed by a timer at most ``MAX_FLUSHES_PER_SECOND`` times a second, so the model sees
one update per tick however fast the engine reports.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from toolbox_uploader.core.events import (
    BatchProgress,
    DropFinished,
    EngineEvent,
    ItemChanged,
    ItemsAdded,
    ItemSnapshot,
    ItemsRemoved,
    QueueStatus,
    ServerStatus,
)

MAX_FLUSHES_PER_SECOND = 10
_FREEZE_AFTER = 1000  # rows added in one flush
#: Rows added per flush: a drop arrives at once, and 10,000 rows inserted in one tick take
#: 20-30 ms of the GUI thread here, more for a bigger drop; the rest follow on the next ticks.
ADD_SLICE = 2500


class EngineBridge(QObject):
    """Engine events as Qt signals, coalesced.

    Signals (all emitted on the GUI thread, at most 10 times a second in total):

    * ``items_added(list[ItemSnapshot])`` — new rows, in the engine's order (a big drop in
      slices of ``ADD_SLICE``);
    * ``items_changed(list[ItemSnapshot])`` — the latest snapshot of each changed item;
    * ``items_removed(list[int])`` — ids no longer in the queue;
    * ``batch_progress(BatchProgress)`` — totals for the status bar and tray;
    * ``server_status(ServerStatus)`` — reachability / sign-in needed;
    * ``queue_status(QueueStatus)`` — the session store refuses writes, or takes them again;
    * ``drop_finished(DropFinished)`` — how a drop ended, each one, once its rows are in
      (after the last slice of a big drop);
    * ``flushed()`` — after each flush (tests and the benchmark wait on it).
    """

    items_added = Signal(list)
    items_changed = Signal(list)
    items_removed = Signal(list)
    batch_progress = Signal(object)
    server_status = Signal(object)
    queue_status = Signal(object)
    drop_finished = Signal(object)
    flushed = Signal()

    _batch_received = Signal(list)  # engine thread -> GUI thread (queued)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._added: dict[int, ItemSnapshot] = {}
        self._changed: dict[int, ItemSnapshot] = {}
        self._removed: set[int] = set()
        self._progress: BatchProgress | None = None
        self._status: ServerStatus | None = None
        self._queue: QueueStatus | None = None
        self._drops: list[DropFinished] = []
        self._last_flush = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.flush)
        self._batch_received.connect(self._on_batch, Qt.ConnectionType.QueuedConnection)

    # Runs on the engine thread: hand over and return, nothing else.
    def listener(self, events: list[EngineEvent]) -> None:
        self._batch_received.emit(list(events))

    @Slot(list)
    def _on_batch(self, events: list[Any]) -> None:
        for event in events:
            if isinstance(event, ItemsAdded):
                for item in event.items:
                    self._removed.discard(item.id)
                    self._changed.pop(item.id, None)
                    self._added[item.id] = item
            elif isinstance(event, ItemChanged):
                item = event.item
                if item.id in self._added:
                    self._added[item.id] = item
                else:
                    self._changed[item.id] = item
            elif isinstance(event, ItemsRemoved):
                for item_id in event.ids:
                    self._added.pop(item_id, None)
                    self._changed.pop(item_id, None)
                    self._removed.add(item_id)
            elif isinstance(event, BatchProgress):
                self._progress = event
            elif isinstance(event, ServerStatus):
                self._status = event
            elif isinstance(event, QueueStatus):
                self._queue = event
            elif isinstance(event, DropFinished):
                self._drops.append(event)
        if not self._timer.isActive():
            wait = self._last_flush + 1.0 / MAX_FLUSHES_PER_SECOND - time.monotonic()
            self._timer.start(max(0, int(wait * 1000)))

    @Slot()
    def flush(self) -> None:
        """Emit what is pending (the timer calls this; tests may call it directly)."""
        self._timer.stop()
        self._last_flush = time.monotonic()
        removed, self._removed = self._removed, set()
        added, self._added = self._added, {}
        if len(added) > ADD_SLICE:
            pending = list(added.items())
            added, self._added = dict(pending[:ADD_SLICE]), dict(pending[ADD_SLICE:])
        changed, self._changed = self._changed, {}
        progress, self._progress = self._progress, None
        status, self._status = self._status, None
        queue, self._queue = self._queue, None
        if removed:
            self.items_removed.emit(sorted(removed))
        if added:
            self.items_added.emit(list(added.values()))
            if len(added) >= _FREEZE_AFTER:
                # A big queue is long-lived: take it out of the cyclic GC's full passes,
                # which otherwise walk every snapshot holding the GIL for 40-60 ms (a GUI
                # stall, whichever thread triggers it). Snapshots hold no cycles, so
                # reference counting still frees them when rows go.
                gc.freeze()
        if changed:
            self.items_changed.emit(list(changed.values()))
        if progress is not None:
            self.batch_progress.emit(progress)
        if status is not None:
            self.server_status.emit(status)
        if queue is not None:
            self.queue_status.emit(queue)
        if self._added:  # the rest of a big drop, on the next tick
            self._timer.start(int(1000 / MAX_FLUSHES_PER_SECOND))
        else:  # "Added 10,000 files" once they are all there
            drops, self._drops = self._drops, []
            for drop in drops:
                self.drop_finished.emit(drop)
        self.flushed.emit()
