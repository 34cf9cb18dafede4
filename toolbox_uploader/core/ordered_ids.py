"""A set of item ids read back in ascending order (queue order), a few at a time.

Why not ``sorted(ids)``: the engine asks for the next items to start on every state change,
and sorting 10,000 queued ids each time made a big drop quadratic (about 0.5 ms a sort,
tens of thousands of sorts). A heap beside the set gives the first k in O(k log n).
Removal is lazy: a removed id stays in the heap until it reaches the top, and the heap is
rebuilt from the set when stale entries outnumber live ones.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator


class OrderedIds:
    def __init__(self) -> None:
        self._members: set[int] = set()
        self._heap: list[int] = []

    def add(self, item_id: int) -> None:
        if item_id not in self._members:
            self._members.add(item_id)
            heapq.heappush(self._heap, item_id)
            if len(self._heap) > 2 * len(self._members) + 64:
                self._heap = list(self._members)
                heapq.heapify(self._heap)

    def discard(self, item_id: int) -> None:
        self._members.discard(item_id)
        if not self._members:
            self._heap.clear()

    def clear(self) -> None:
        self._members.clear()
        self._heap.clear()

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._members

    def __len__(self) -> int:
        return len(self._members)

    def ascending(self) -> Iterator[int]:
        """The ids from the smallest up, taken from the heap only as far as they are read.

        Each step gives the smallest id not read yet, including ids added meanwhile; what
        was read goes back into the heap when the iteration is closed, so nothing is lost.
        Close it (``contextlib.closing``) before changing the set in response, and keep
        one iteration open at a time.
        """
        taken: list[int] = []
        try:
            while self._heap:
                item_id = heapq.heappop(self._heap)
                if item_id not in self._members or (taken and taken[-1] == item_id):
                    continue  # removed earlier, or a duplicate left by remove-then-add
                taken.append(item_id)
                yield item_id
        finally:
            for item_id in taken:
                if item_id in self._members:
                    heapq.heappush(self._heap, item_id)
