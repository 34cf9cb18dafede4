"""The slowest request body the server keeps reading.

The idle timeout ends a body that sends nothing for a while, but a client that sends one
byte just before each timeout would hold its connection, and the upload it writes to,
for ever. So a body must also bring at least ``MIN_BYTES`` in every window of the idle
timeout's length: far below any real link (a 1 KiB/s bandwidth limit sends 60 KiB a
minute), far above a drip. The bytes that did arrive are kept, as for any cut body.
"""

from __future__ import annotations

import time
from collections.abc import Callable

MIN_BYTES = 1024


class BodyPace:
    """Counts a body's bytes per window; ``too_slow`` once a whole window brought too few."""

    def __init__(self, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._started = clock()
        self._bytes = 0

    def add(self, count: int) -> None:
        self._bytes += count

    def too_slow(self) -> bool:
        now = self._clock()
        if now - self._started < self.window:
            return False
        if self._bytes < MIN_BYTES:
            return True
        self._started, self._bytes = now, 0
        return False

    def describe(self) -> str:
        return f"under {MIN_BYTES // 1024} KiB in {self.window:g} s"
