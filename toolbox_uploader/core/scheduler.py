"""Which ready item uploads next, and what happens after a failed attempt.

Pure policy, no I/O, so it is tested on its own; the engine applies the decisions.

Lanes: files larger than ``BIG_FILE_BYTES`` (the seed's "resumable" class) share at most
``big_slots`` of the ``concurrency`` upload slots, and small files always keep at least
one slot, so 300 worksheets are never stuck behind one 4 GB lesson video.

Retries follow the ``ErrorKind`` the transfer layer gives (never message text):
transient and offline errors come back after a full-jitter exponential delay (1 s doubling
to a 60 s cap; ``Retry-After`` wins when the server sends one); offline keeps trying for
as long as the server is unreachable, transient gives up after ``MAX_TRANSIENT_ATTEMPTS``
(not a 429 with ``Retry-After``: the server set that wait);
an auth error pauses the queue until the teacher signs in; a vanished upload starts the
file over once; anything fatal stops with the server's message.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from toolbox_uploader.core.events import Reason
from toolbox_uploader.core.transfer_errors import ErrorKind, TransferError, retry_delay

BIG_FILE_BYTES = 100 * 1024 * 1024
MAX_TRANSIENT_ATTEMPTS = 12
BACKOFF_BASE = 1.0
BACKOFF_CAP = 60.0


def is_big(size: int | None) -> bool:
    return size is None or size > BIG_FILE_BYTES


class Lanes:
    """Slot accounting for the small-file and big-file lanes."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = max(1, int(concurrency))

    @property
    def big_slots(self) -> int:
        return max(1, self.concurrency // 2)

    def _counts(self, active: Mapping[int, int | None]) -> tuple[int, int]:
        big_active = sum(1 for size in active.values() if is_big(size))
        return big_active, len(active) - big_active

    def _room(self, big_active: int, small_active: int) -> tuple[bool, bool]:
        """(a big file may start, a small file may start)."""
        big = big_active < self.big_slots and big_active + small_active < self.concurrency
        small = small_active < max(1, self.concurrency - big_active)
        return big, small

    def has_room(self, active: Mapping[int, int | None]) -> bool:
        return any(self._room(*self._counts(active)))

    def pick(self, ready: Iterable[tuple[int, int | None]],
             active: Mapping[int, int | None]) -> list[int]:
        """Ids to start now, from ``ready`` (id, size) in queue order."""
        big_active, small_active = self._counts(active)
        chosen: list[int] = []
        for item_id, size in ready:
            big_room, small_room = self._room(big_active, small_active)
            if not (big_room or small_room):
                break
            if item_id in active:
                continue
            if is_big(size):
                if big_room:
                    chosen.append(item_id)
                    big_active += 1
            elif small_room:
                chosen.append(item_id)
                small_active += 1
        return chosen


class Action(StrEnum):
    RETRY = "retry"  # failed, retryable, comes back by itself at ``delay``
    RESTART = "restart"  # throw the server upload away and send the file again now
    SIGN_IN = "sign_in"  # pause the queue until a new token arrives
    FAIL = "fail"  # stop; the teacher may retry by hand


@dataclass(frozen=True, slots=True)
class RetryDecision:
    action: Action
    reason: Reason
    delay: float | None = None
    retryable: bool = False


def waiting_message(kind: ErrorKind, delay: float, why: str | None = None) -> str:
    """``why``: the server's own reason for the wait, said instead of "busy"."""
    seconds = max(1, math.ceil(delay))
    if kind is ErrorKind.OFFLINE:
        return f"Waiting for network, next try in {seconds} s."
    if why:
        return f"{why.strip().rstrip('.')}, next try in {seconds} s."
    return f"The server is busy, next try in {seconds} s."


def _asked_to_wait(error: TransferError) -> bool:
    """A 429 with ``Retry-After``: the server says when to come back (e.g. an account at
    its cap of unfinished uploads, which frees up as they finish or expire). That is a
    wait, not a failing server, so it is not counted against ``MAX_TRANSIENT_ATTEMPTS``."""
    return error.status == 429 and error.retry_after is not None


_COUNTDOWN = re.compile(r",? next try in \d+ s\.?$")


def has_countdown(message: str) -> bool:
    """Does ``message`` end with the "next try in N s" that ``waiting_message`` adds?"""
    return _COUNTDOWN.search(message) is not None


def without_countdown(message: str) -> str:
    """A waiting message without its "next try in N s", which is only true the moment it
    is made: for a reader who sees it later (a report, a command's summary)."""
    why = _COUNTDOWN.sub("", message).strip()
    return why if why.endswith(".") else why + "."


def decide(error: TransferError, *, attempts: int, restarts: int) -> RetryDecision:
    """What to do after the ``attempts``-th failed attempt (1-based) with ``error``."""
    kind = error.kind
    if kind in (ErrorKind.TRANSIENT, ErrorKind.OFFLINE):
        asked = _asked_to_wait(error)
        if kind is ErrorKind.TRANSIENT and attempts >= MAX_TRANSIENT_ATTEMPTS and not asked:
            return RetryDecision(
                Action.FAIL,
                Reason(error.code or "gave_up",
                       f"Gave up after {attempts} attempts: {error.message}"),
                retryable=True,
            )
        # attempt 1 waits up to 1 s, then 2, 4 ... 60 s; never less than Retry-After.
        delay = retry_delay(error, attempts - 1, base=BACKOFF_BASE, cap=BACKOFF_CAP)
        code = "offline" if kind is ErrorKind.OFFLINE else (error.code or "transient")
        # A toolbox server's reason (it has a machine code) says more than "busy".
        why = error.message if asked and error.code else None
        return RetryDecision(Action.RETRY, Reason(code, waiting_message(kind, delay, why)),
                             delay=delay, retryable=True)
    if kind is ErrorKind.AUTH:
        return RetryDecision(
            Action.SIGN_IN,
            Reason("sign_in_needed", "The server asks you to sign in again. " + error.message),
            retryable=True,
        )
    if kind is ErrorKind.RESTART:
        if restarts < 1:
            return RetryDecision(Action.RESTART, Reason(error.code or "restarted",
                                                        f"Started over: {error.message}"))
        return RetryDecision(
            Action.FAIL,
            Reason(error.code or "restart_failed",
                   f"Failed again after starting over: {error.message}"),
            retryable=True,
        )
    return RetryDecision(Action.FAIL, Reason(error.code or "failed", error.message),
                         retryable=False)
