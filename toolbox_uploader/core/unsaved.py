"""Item changes the session store could not take yet, kept until it can.

A full disk, a queue file made read-only or a lock held too long by another program make
SQLite refuse a write. Uploads must not stop dead on that (a row stuck in "uploading"
after its file arrived): the engine keeps the item as it is in memory and writes the whole
row again, with a growing pause, until the store takes it. The row on disk meanwhile is a
state from before, which a restart handles as after a crash.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from toolbox_uploader.core.session_store import ItemRecord, SessionStore, StoreError
from toolbox_uploader.core.states import ItemState

FIRST_DELAY = 0.5
MAX_DELAY = 30.0


class UnsavedItems:
    """Ids whose latest changes are only in memory, each with the state its row has on
    disk (what the compare-and-set write must find there)."""

    def __init__(self) -> None:
        self._on_disk: dict[int, ItemState] = {}
        self._failures = 0

    def __contains__(self, item_id: int) -> bool:
        return item_id in self._on_disk

    def __bool__(self) -> bool:
        return bool(self._on_disk)

    def note(self, item_id: int, on_disk: ItemState) -> None:
        """The write of ``item_id`` failed; its row still holds ``on_disk`` (kept from the
        first failure: later changes never reached the file either)."""
        self._on_disk.setdefault(item_id, on_disk)

    def forget(self, item_id: int) -> None:
        self._on_disk.pop(item_id, None)

    def clear(self) -> None:
        self._on_disk.clear()
        self._failures = 0

    def flush(self, store: SessionStore, records: Mapping[int, ItemRecord]) -> bool:
        """Write what can be written; True once nothing is left."""
        for item_id, on_disk in list(self._on_disk.items()):
            record = records.get(item_id)
            if record is not None:
                try:
                    store.save(record, expected=on_disk)
                except sqlite3.Error:
                    self._failures += 1
                    return False
                except StoreError:  # the row was removed meanwhile: nothing to save
                    pass
            del self._on_disk[item_id]
        self._failures = 0
        return True

    def next_delay(self) -> float:
        return min(MAX_DELAY, FIRST_DELAY * 2 ** min(self._failures, 10))
