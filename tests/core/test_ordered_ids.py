"""Queue order for the engine's waiting items, read a few at a time."""

from __future__ import annotations

import itertools
import random

from toolbox_uploader.core.ordered_ids import OrderedIds


def test_ascending_order_with_adds_and_removals() -> None:
    ids = OrderedIds()
    for n in (5, 3, 9, 1, 7):
        ids.add(n)
    ids.discard(3)
    ids.add(3)  # back again: listed once
    ids.add(9)  # already there
    assert list(ids.ascending()) == [1, 3, 5, 7, 9]
    assert len(ids) == 5 and 7 in ids and 2 not in ids


def test_reading_a_few_keeps_the_rest_and_what_was_read() -> None:
    ids = OrderedIds()
    for n in range(100, 0, -1):
        ids.add(n)
    first = list(itertools.islice(ids.ascending(), 3))  # abandoned after three
    assert first == [1, 2, 3]
    ids.discard(2)  # started elsewhere, e.g.
    assert list(itertools.islice(ids.ascending(), 3)) == [1, 3, 4]
    assert len(list(ids.ascending())) == 99


def test_changes_while_reading_are_kept() -> None:
    ids = OrderedIds()
    for n in (10, 20, 30):
        ids.add(n)
    reader = ids.ascending()
    assert next(reader) == 10
    ids.discard(10)
    ids.add(5)
    ids.discard(30)
    assert list(reader) == [5, 20]  # the smallest of what is left, whenever it came
    assert list(ids.ascending()) == [5, 20]


def test_matches_sorted_under_random_use() -> None:
    rng = random.Random(3)
    ids, model = OrderedIds(), set()
    for _ in range(2_000):
        n = rng.randrange(200)
        if rng.random() < 0.6:
            ids.add(n)
            model.add(n)
        else:
            ids.discard(n)
            model.discard(n)
        if rng.random() < 0.1:
            k = rng.randrange(1, 10)
            assert list(itertools.islice(ids.ascending(), k)) == sorted(model)[:k]
    assert list(ids.ascending()) == sorted(model)
    ids.clear()
    assert list(ids.ascending()) == [] and len(ids) == 0


def test_the_heap_stays_near_the_size_of_the_set() -> None:
    """Ids that come and go (an item paused and resumed over and over) leave stale entries
    behind; the heap is rebuilt before they pile up."""
    ids = OrderedIds()
    for n in range(1_000):
        ids.add(n)
    for _ in range(50):
        for n in range(0, 1_000, 2):
            ids.discard(n)
            ids.add(n)
    assert len(ids._heap) <= 2 * len(ids) + 64
    assert list(itertools.islice(ids.ascending(), 5)) == [0, 1, 2, 3, 4]
