"""EngineBridge: events from another thread arrive as coalesced signals on the GUI thread."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QThread
from pytestqt.qtbot import QtBot

from toolbox_uploader.core.events import (
    BatchProgress,
    ItemChanged,
    ItemsAdded,
    ItemSnapshot,
    ItemsRemoved,
)
from toolbox_uploader.ui.bridge import ADD_SLICE, MAX_FLUSHES_PER_SECOND, EngineBridge

Make = Callable[..., ItemSnapshot]


def test_events_from_a_worker_thread_are_merged(qtbot: QtBot, make_item: Make) -> None:
    bridge = EngineBridge()
    a, b = make_item(), make_item()
    seen: dict[str, list] = {"added": [], "changed": [], "removed": [], "threads": []}
    bridge.items_added.connect(lambda items: seen["added"].append(items))
    bridge.items_changed.connect(lambda items: seen["changed"].append(items))
    bridge.items_removed.connect(lambda ids: seen["removed"].append(ids))
    bridge.flushed.connect(lambda: seen["threads"].append(QThread.currentThread()))

    def engine_thread() -> None:
        bridge.listener([ItemsAdded((a, b))])
        for sent in range(1, 50):
            bridge.listener([ItemChanged(replace(b, bytes_sent=sent)),
                             BatchProgress(2, 0, 0, 2000, sent, 1.0, None)])
        bridge.listener([ItemsRemoved((a.id,))])

    with qtbot.waitSignal(bridge.flushed, timeout=5000):
        worker = threading.Thread(target=engine_thread)
        worker.start()
        worker.join()
    qtbot.waitUntil(lambda: not bridge._timer.isActive(), timeout=2000)
    assert all(t is QThread.currentThread() for t in seen["threads"])
    flat_added = [i for batch in seen["added"] for i in batch]
    # b arrives once, already carrying its latest progress; a was removed before any flush
    # or is removed afterwards — either way it does not survive.
    assert [i.id for i in flat_added if i.id == b.id] == [b.id]
    latest_b = [i for batch in seen["added"] + seen["changed"] for i in batch if i.id == b.id]
    assert latest_b[-1].bytes_sent == 49
    assert len(seen["threads"]) <= 3


def test_flushes_are_rate_limited(qtbot: QtBot, make_item: Make) -> None:
    bridge = EngineBridge()
    item = make_item()
    flushes: list[float] = []
    bridge.flushed.connect(lambda: flushes.append(time.monotonic()))
    bridge.listener([ItemsAdded((item,))])
    deadline = time.monotonic() + 1.0
    sent = 0
    while time.monotonic() < deadline:  # bounded by time: a flood for one second
        sent += 1
        bridge.listener([ItemChanged(replace(item, bytes_sent=sent))])
        qtbot.wait(5)
    qtbot.waitUntil(lambda: not bridge._timer.isActive(), timeout=2000)
    assert 5 <= len(flushes) <= MAX_FLUSHES_PER_SECOND + 2
    gaps = [b - a for a, b in itertools.pairwise(flushes)]
    assert min(gaps) >= 0.09


def test_a_big_drop_arrives_in_slices_in_order(qtbot: QtBot, make_item: Make) -> None:
    """10,000 new rows in one engine batch reach the model a slice per tick, in order, with
    changes to rows still waiting folded into them."""
    bridge = EngineBridge()
    items = [make_item() for _ in range(4 * ADD_SLICE + 10)]
    slices: list[list[ItemSnapshot]] = []
    bridge.items_added.connect(slices.append)
    bridge.listener([ItemsAdded(tuple(items))])
    qtbot.waitUntil(lambda: len(slices) >= 1, timeout=2000)
    last = items[-1]
    bridge.listener([ItemChanged(replace(last, bytes_sent=7)), ItemsRemoved((items[-2].id,))])
    qtbot.waitUntil(lambda: sum(map(len, slices)) >= len(items) - 1, timeout=5000)
    assert max(len(s) for s in slices) == ADD_SLICE
    got = [i for s in slices for i in s]
    assert [i.id for i in got] == [i.id for i in items if i.id != items[-2].id]
    assert got[-1].bytes_sent == 7
