"""The byte budget of small files kept in memory between validation and upload."""

from __future__ import annotations

from toolbox_uploader.core.body_cache import BodyCache


def test_keeps_bodies_within_the_budget() -> None:
    cache = BodyCache(budget=10)
    assert cache.put(1, b"abcd") and cache.put(2, b"efgh")
    assert not cache.put(3, b"ijk")  # 11 > 10: read from disk when sent
    assert cache.used == 8 and len(cache) == 2
    assert cache.take(1) == b"abcd" and cache.take(1) is None
    assert cache.put(3, b"ijk") and cache.used == 7


def test_a_new_body_for_an_item_replaces_the_old_and_drop_frees_it() -> None:
    cache = BodyCache(budget=10)
    assert cache.put(1, b"abcdefgh")
    assert cache.put(1, b"xy")  # re-validated: the old bytes are not counted twice
    assert cache.used == 2 and cache.take(1) == b"xy"
    cache.put(2, b"abc")
    cache.drop(2)
    cache.drop(2)
    assert cache.used == 0 and len(cache) == 0
