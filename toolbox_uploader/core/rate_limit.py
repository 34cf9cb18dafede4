"""A token bucket that caps the bandwidth of all uploads together.

Written here rather than taken from a library because it must be shared by every upload
task on the engine's loop, change its rate while uploads run, and let a request borrow
ahead (a piece larger than the bucket waits proportionally instead of failing).
"""

from __future__ import annotations

import asyncio
import time


class RateLimiter:
    """``await limiter.acquire(n)`` before sending ``n`` bytes; ``rate=None`` means no limit."""

    def __init__(self, rate: float | None, *, burst_seconds: float = 0.25) -> None:
        self._burst_seconds = burst_seconds
        self._lock = asyncio.Lock()
        self._rate: float | None = None
        self._tokens = 0.0
        self._stamp = time.monotonic()
        self.set_rate(rate)

    @property
    def rate(self) -> float | None:
        return self._rate

    @property
    def burst(self) -> float:
        return 0.0 if self._rate is None else self._rate * self._burst_seconds

    def set_rate(self, rate: float | None) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive or None")
        self._rate = float(rate) if rate is not None else None
        self._tokens = min(self._tokens, self.burst)
        self._stamp = time.monotonic()

    def piece_size(self, default: int) -> int:
        """A read size that still gives ≥ 8 progress updates a second at this rate."""
        if self._rate is None:
            return default
        return max(4096, min(default, int(self._rate / 8)))

    def _refill(self) -> None:
        now = time.monotonic()
        if self._rate is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now

    async def acquire(self, amount: int) -> None:
        """Wait until ``amount`` bytes may be sent. Callers queue fairly behind the lock."""
        if self._rate is None or amount <= 0:
            return
        async with self._lock:
            self._refill()
            self._tokens -= amount
            if self._tokens < 0 and self._rate is not None:
                await asyncio.sleep(-self._tokens / self._rate)
                self._refill()
