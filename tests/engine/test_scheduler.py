"""Lanes and retry decisions (pure policy)."""

from __future__ import annotations

import pytest

from toolbox_uploader.core.scheduler import (
    BIG_FILE_BYTES,
    MAX_TRANSIENT_ATTEMPTS,
    Action,
    Lanes,
    decide,
)
from toolbox_uploader.core.transfer_errors import ErrorKind, TransferError

BIG = BIG_FILE_BYTES + 1


def test_small_files_keep_flowing_next_to_big_ones() -> None:
    lanes = Lanes(3)
    ready = [(1, BIG), (2, BIG), (3, BIG), (4, 10), (5, 10), (6, 10)]
    assert lanes.pick(ready, {}) == [1, 4, 5]
    # With a big upload running, the other big ones wait but small ones start.
    assert lanes.pick(ready[1:], {1: BIG}) == [4, 5]
    # Only big files: one at a time on 3 slots.
    assert lanes.pick([(2, BIG), (3, BIG)], {1: BIG}) == []


def test_one_slot_still_lets_a_small_file_past_a_big_one() -> None:
    lanes = Lanes(1)
    assert lanes.pick([(2, 10)], {1: BIG}) == [2]
    assert lanes.pick([(2, 10), (3, 10)], {1: BIG, 2: 10}) == []


@pytest.mark.parametrize("kind", [ErrorKind.TRANSIENT, ErrorKind.OFFLINE])
def test_transient_and_offline_back_off_with_full_jitter(kind: ErrorKind) -> None:
    error = TransferError(kind, "down")
    for attempt in range(1, 9):
        decision = decide(error, attempts=attempt, restarts=0)
        assert decision.action is Action.RETRY and decision.retryable
        assert decision.delay is not None
        assert 0 <= decision.delay <= min(60.0, 2 ** (attempt - 1))
    offline = decide(TransferError(ErrorKind.OFFLINE, "x"), attempts=500, restarts=0)
    assert offline.action is Action.RETRY  # keeps trying while the server is unreachable
    assert offline.reason.message.startswith("Waiting for network, next try in")


def test_retry_after_is_honoured_and_transient_gives_up() -> None:
    limited = TransferError(ErrorKind.TRANSIENT, "slow down", status=429, retry_after=7)
    decision = decide(limited, attempts=1, restarts=0)
    assert decision.action is Action.RETRY and decision.delay is not None
    assert decision.delay >= 7
    gave_up = decide(TransferError(ErrorKind.TRANSIENT, "503"),
                     attempts=MAX_TRANSIENT_ATTEMPTS, restarts=0)
    assert gave_up.action is Action.FAIL


def test_auth_restart_fatal() -> None:
    assert decide(TransferError(ErrorKind.AUTH, "x", status=401),
                  attempts=1, restarts=0).action is Action.SIGN_IN
    gone = TransferError(ErrorKind.RESTART, "gone", status=404)
    assert decide(gone, attempts=1, restarts=0).action is Action.RESTART
    assert decide(gone, attempts=2, restarts=1).action is Action.FAIL
    fatal = decide(TransferError(ErrorKind.FATAL, "Quota exceeded", status=413),
                   attempts=1, restarts=0)
    assert fatal.action is Action.FAIL and not fatal.retryable
    assert fatal.reason.message == "Quota exceeded"
