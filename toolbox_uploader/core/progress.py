"""Speed, ETA and event coalescing: what keeps 1,000 items from flooding a GUI.

``SpeedMeter`` is a moving average over the last few seconds (a chunk-by-chunk rate
jumps around too much to show). ``EventCoalescer`` merges a listener's pending events —
only the latest ``ItemChanged`` per item and the latest ``BatchProgress`` survive; every
``ItemsAdded``, ``ItemsRemoved`` and ``DropFinished`` is kept, in order — and
``Dispatcher`` hands each listener at most ``MAX_EVENTS_PER_SECOND`` batches a second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from toolbox_uploader.core.events import (
    MAX_EVENTS_PER_SECOND,
    BatchProgress,
    DropFinished,
    EngineEvent,
    ItemChanged,
    ItemsAdded,
    ItemsRemoved,
    QueueStatus,
    ServerStatus,
)

log = logging.getLogger(__name__)

Listener = Callable[[list[EngineEvent]], None]


class SpeedMeter:
    """Bytes per second over a sliding window of ``window`` seconds.

    A time left is given only once the samples span ``settle`` seconds: the first moments
    of a request fill the network's buffers faster than the link goes, and a time left
    from them ("a few seconds" for 18 MB at 600 kB/s) is worse than none."""

    def __init__(self, window: float = 5.0, clock: Callable[[], float] = time.monotonic,
                 settle: float = 1.0) -> None:
        self.window = window
        self.settle = settle
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque()

    def record(self, total_bytes: int) -> None:
        now = self._clock()
        self._samples.append((now, total_bytes))
        while len(self._samples) > 2 and now - self._samples[0][0] > self.window:
            self._samples.popleft()

    def reset(self) -> None:
        self._samples.clear()

    @property
    def speed(self) -> float:
        if len(self._samples) < 2:
            return 0.0
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        if t1 - t0 <= 0 or b1 < b0:
            return 0.0
        return (b1 - b0) / (t1 - t0)

    @property
    def settled(self) -> bool:
        return len(self._samples) >= 2 and (
            self._samples[-1][0] - self._samples[0][0] >= self.settle)

    def eta(self, remaining: int | None) -> float | None:
        speed = self.speed
        if remaining is None or speed <= 0 or not self.settled:
            return None
        return max(0.0, remaining / speed)


class EventCoalescer:
    """Pending events of one listener, merged so a batch says each thing once."""

    def __init__(self) -> None:
        self._pending: list[EngineEvent | None] = []
        self._changed: dict[int, int] = {}
        self._status: dict[type, int] = {}
        self._batch: BatchProgress | None = None

    def push(self, event: EngineEvent) -> None:
        if isinstance(event, BatchProgress):
            self._batch = event
        elif isinstance(event, ItemChanged):
            index = self._changed.get(event.item.id)
            if index is None:
                self._changed[event.item.id] = len(self._pending)
                self._pending.append(event)
            else:
                self._pending[index] = event
        elif isinstance(event, ServerStatus | QueueStatus):  # only the latest of each says
            kind = type(event)
            index = self._status.get(kind)
            if index is not None:
                self._pending[index] = None
            self._status[kind] = len(self._pending)
            self._pending.append(event)
        elif isinstance(event, DropFinished):
            # Each drop's own outcome, after the rows it added (pushed before it): never
            # merged, so two quick drops each get their line.
            self._pending.append(event)
        else:
            # An item added (or removed) here makes its earlier pending change moot, and a
            # later change must come after it, not take that earlier place: a listener that
            # met "changed: done" before "added: queued" would keep the row at queued.
            ids = event.ids if isinstance(event, ItemsRemoved) else (
                [item.id for item in event.items] if isinstance(event, ItemsAdded) else [])
            for item_id in ids:
                index = self._changed.pop(item_id, None)
                if index is not None:
                    self._pending[index] = None
            self._pending.append(event)

    def __bool__(self) -> bool:
        return bool(self._pending) or self._batch is not None

    def drain(self) -> list[EngineEvent]:
        batch = [e for e in self._pending if e is not None]
        if self._batch is not None:
            batch.append(self._batch)
        self._pending.clear()
        self._changed.clear()
        self._status.clear()
        self._batch = None
        return batch


class Dispatcher:
    """Delivers coalesced batches to listeners on the engine loop, ≤ 10 per second each."""

    def __init__(self, loop: asyncio.AbstractEventLoop,
                 rate: float = MAX_EVENTS_PER_SECOND,
                 batch_provider: Callable[[], BatchProgress] | None = None) -> None:
        self._loop = loop
        self._batch_provider = batch_provider
        self._batch_dirty = False
        self._interval = 1.0 / rate
        self._listeners: dict[int, tuple[Listener, EventCoalescer]] = {}
        self._next_id = 0
        self._last_flush = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def add(self, listener: Listener, first: list[EngineEvent]) -> int:
        key = self._next_id
        self._next_id += 1
        coalescer = EventCoalescer()
        for event in first:
            coalescer.push(event)
        self._listeners[key] = (listener, coalescer)
        self._schedule()
        return key

    def discard(self, key: int) -> None:
        self._listeners.pop(key, None)

    def emit(self, event: EngineEvent) -> None:
        if not self._listeners:
            return
        for _, coalescer in self._listeners.values():
            coalescer.push(event)
        self._schedule()

    def batch_changed(self) -> None:
        """Totals changed; they are computed once, when the next batch goes out."""
        if self._listeners and self._batch_provider is not None:
            self._batch_dirty = True
            self._schedule()

    def _schedule(self) -> None:
        if self._timer is not None:
            return
        delay = max(0.0, self._last_flush + self._interval - self._loop.time())
        self._timer = self._loop.call_later(delay, self.flush)

    def flush(self) -> None:
        self._timer = None
        self._last_flush = self._loop.time()
        if self._batch_dirty and self._batch_provider is not None:
            self._batch_dirty = False
            totals = self._batch_provider()
            for _, coalescer in self._listeners.values():
                coalescer.push(totals)
        for listener, coalescer in list(self._listeners.values()):
            if not coalescer:
                continue
            batch = coalescer.drain()
            try:
                listener(batch)
            except Exception:  # a broken listener must not stop the uploads
                log.exception("engine listener failed")
