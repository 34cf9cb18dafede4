"""Speed/ETA and coalescing: 1,000 busy items give at most 10 batches a second."""

from __future__ import annotations

import asyncio
import itertools
import time

from toolbox_uploader.core.events import (
    BatchProgress,
    ItemChanged,
    ItemsAdded,
    ItemSnapshot,
    ItemsRemoved,
    QueueStatus,
    ServerStatus,
)
from toolbox_uploader.core.progress import Dispatcher, EventCoalescer, SpeedMeter
from toolbox_uploader.core.states import ItemState


def _snap(item_id: int, sent: int) -> ItemSnapshot:
    return ItemSnapshot(item_id, f"/s/{item_id}", str(item_id), str(item_id), "c", 100,
                        ItemState.UPLOADING, bytes_sent=sent)


def test_speed_meter_moving_average() -> None:
    now = [0.0]
    meter = SpeedMeter(window=5.0, clock=lambda: now[0])
    for second in range(10):
        now[0] = float(second)
        meter.record(second * 1000)
    assert meter.speed == 1000.0
    assert meter.eta(5000) == 5.0
    assert SpeedMeter().eta(10) is None


def test_coalescer_keeps_latest_per_item_and_respects_removal() -> None:
    c = EventCoalescer()
    c.push(ItemsAdded((_snap(1, 0), _snap(2, 0))))
    for sent in range(50):
        c.push(ItemChanged(_snap(1, sent)))
        c.push(BatchProgress(2, 0, 0, 200, sent, 0.0, None))
    c.push(ItemChanged(_snap(2, 3)))
    c.push(ItemsRemoved((2,)))
    c.push(ServerStatus(False, "down"))
    c.push(QueueStatus(False, "cannot be saved"))
    c.push(ServerStatus(True, "up"))  # the latest of each kind, neither hiding the other
    batch = c.drain()
    assert [type(e).__name__ for e in batch] == ["ItemsAdded", "ItemChanged", "ItemsRemoved",
                                                 "QueueStatus", "ServerStatus", "BatchProgress"]
    assert batch[1].item.bytes_sent == 49
    assert batch[3].saved is False
    assert batch[4].reachable is True and batch[-1].bytes_done == 49
    assert not c


def test_a_change_after_an_item_is_added_comes_after_it() -> None:
    """A change pushed before the item's ItemsAdded (a new version of a done file) must not
    keep that earlier place: later changes would be drained before the add, and a listener
    would end with the row as it was added."""
    c = EventCoalescer()
    c.push(ItemChanged(_snap(7, 0)))
    c.push(ItemsAdded((_snap(7, 0),)))
    c.push(ItemChanged(_snap(7, 100)))
    batch = c.drain()
    assert [type(e).__name__ for e in batch] == ["ItemsAdded", "ItemChanged"]
    assert batch[-1].item.bytes_sent == 100


async def test_dispatcher_sends_at_most_ten_batches_a_second_for_1000_items() -> None:
    dispatcher = Dispatcher(asyncio.get_running_loop())
    batches: list[tuple[float, int]] = []
    dispatcher.add(lambda b: batches.append((time.monotonic(), len(b))), [])
    start = time.monotonic()
    rounds = 0
    while time.monotonic() - start < 1.5 and rounds < 10_000:
        for item in range(1000):
            dispatcher.emit(ItemChanged(_snap(item, rounds)))
        dispatcher.emit(BatchProgress(1000, 0, 0, 100_000, rounds, 0.0, None))
        rounds += 1
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.15)
    elapsed = time.monotonic() - start
    assert len(batches) <= elapsed * 10 + 1
    assert len(batches) >= 5  # it does deliver while events keep coming
    # Each batch names each item once (plus one BatchProgress).
    assert max(size for _, size in batches) <= 1001
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(batches)]
    assert min(gaps) >= 0.09


def test_no_time_left_until_the_speed_has_settled() -> None:
    """The first moments fill the network's buffers faster than the link: no guess yet."""
    now = [0.0]
    meter = SpeedMeter(clock=lambda: now[0])
    meter.record(0)
    now[0] = 0.5
    meter.record(2_000_000)  # buffers filling: 4 MB/s "measured"
    assert meter.speed > 0 and meter.eta(18_000_000) is None
    now[0] = 1.5
    meter.record(2_600_000)
    assert meter.settled and meter.eta(18_000_000) is not None
