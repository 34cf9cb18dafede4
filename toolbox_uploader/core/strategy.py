"""How a file is sent: the seed's four strategies, and the chunk size for PATCHes.

The thresholds are the seed's (< 10 MB direct, 10–100 MB chunked, > 100 MB resumable,
unknown length streaming). The chunk size adapts to the measured throughput so that a
chunk takes a few seconds: long enough that per-request overhead is negligible, short
enough that a cut connection loses little and resumes quickly.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from toolbox_uploader.core.tus_client import ServerInfo

MIB = 1024 * 1024
DIRECT_LIMIT = 10 * MIB
CHUNKED_LIMIT = 100 * MIB


class Strategy(StrEnum):
    DIRECT = "direct"
    CHUNKED = "chunked"
    RESUMABLE = "resumable"
    STREAMING = "streaming"


def choose_strategy(size: int | None) -> Strategy:
    if size is None:
        return Strategy.STREAMING
    if size < DIRECT_LIMIT:
        return Strategy.DIRECT
    if size < CHUNKED_LIMIT:
        return Strategy.CHUNKED
    return Strategy.RESUMABLE


class ChunkSizer:
    """Adaptive PATCH size: aim for ``target_seconds`` per chunk within [minimum, maximum].

    The throughput estimate is an exponential moving average so that one slow chunk (a
    stall, a busy disk) does not halve the next chunk, while a lasting change does.

    Until a chunk was measured the aim is ``first_seconds``: under a bandwidth limit the
    first chunk is sized from the limit (``tus_client._chunk_size``), and a chunk cut by a
    pause is sent again whole (a server that checks each chunk's checksum cannot keep part
    of one). At 3 s a Ctrl+C in the first seconds of an upload kept nothing at all. For
    the same reason an unmeasured link without a limit starts at ``minimum`` (1 MiB: a few
    milliseconds on a fast link, a few seconds on a slow one), not at a guess.
    """

    def __init__(
        self,
        *,
        initial: int = MIB,
        minimum: int = MIB,
        maximum: int = 50 * MIB,
        target_seconds: float = 3.0,
        first_seconds: float = 1.0,
        smoothing: float = 0.5,
    ) -> None:
        if not minimum <= initial <= maximum:
            raise ValueError("initial chunk size must lie within [minimum, maximum]")
        self.minimum = minimum
        self.maximum = maximum
        self._target_seconds = target_seconds
        self._first_seconds = min(first_seconds, target_seconds)
        self._smoothing = smoothing
        self._size = initial
        self._rate: float | None = None

    @property
    def rate(self) -> float | None:
        """Smoothed throughput in bytes per second, once something was measured."""
        return self._rate

    @property
    def target_seconds(self) -> float:
        """How long the next chunk should take: shorter before anything was measured."""
        return self._first_seconds if self._rate is None else self._target_seconds

    def next_size(self) -> int:
        return self._size

    def record(self, sent: int, seconds: float) -> None:
        """Feed one finished chunk's size and duration."""
        if sent <= 0 or seconds <= 0:
            return
        # A chunk much smaller than planned (the file's tail) says little about the link.
        if sent < self._size // 4 and self._rate is not None:
            return
        rate = sent / seconds
        self._rate = rate if self._rate is None else (
            self._smoothing * rate + (1 - self._smoothing) * self._rate
        )
        wanted = int(self._rate * self._target_seconds)
        self._size = max(self.minimum, min(self.maximum, wanted))


# Parallel parts with tus concatenation were measured against our server on loopback
# (256 MiB, 50 MiB PATCHes, 2 busy cores): 1 part 120-152 MB/s, 2 parts 140, 3 parts
# 130-178, each including the ~0.9 s the server needs to join the parts. The server's
# per-PATCH work (hashing, writing, fdatasync) is the limit there, so parts do not help;
# they pay off only when one connection is held far below the machine's throughput
# (latency, a per-connection cap). Below this rate per connection, parts are worth it.
PARALLEL_WORTHWHILE_BELOW = 20 * MIB  # bytes/s measured on one connection
PARALLEL_MIN_PART = 100 * MIB
PARALLEL_MAX_PARTS = 4


def plan_parallel_parts(size: int, info: ServerInfo, *, measured_rate: float | None = None) -> int:
    """How many parallel partial uploads to use for a file of ``size`` bytes (usually 1).

    Parts need the server's ``concatenation`` extension, a file big enough that each part
    is ≥ 100 MiB, and a measured single-connection rate slow enough that more connections
    can help. Without a measurement, or at loopback-class speeds, the answer is 1.
    """
    if "concatenation" not in info.extensions or size < 2 * PARALLEL_MIN_PART:
        return 1
    if measured_rate is None or measured_rate >= PARALLEL_WORTHWHILE_BELOW:
        return 1
    return max(1, min(PARALLEL_MAX_PARTS, size // PARALLEL_MIN_PART))
