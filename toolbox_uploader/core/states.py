"""Item states and the one table of allowed transitions.

Every state change of a queued file goes through ``check_transition`` (the session
store calls it inside the SQLite transaction that saves the change), so an impossible
move — say ``done`` back to ``uploading`` — is a bug caught at once, not a corrupt row.
"""

from __future__ import annotations

from enum import StrEnum


class ItemState(StrEnum):
    QUEUED = "queued"
    VALIDATING = "validating"
    OPTIMIZING = "optimizing"
    READY = "ready"
    UPLOADING = "uploading"
    PAUSED = "paused"
    VERIFYING = "verifying"
    DONE = "done"
    FAILED = "failed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


S = ItemState

#: Where each state may go next. Retrying a failed or cancelled item re-enters the queue.
TRANSITIONS: dict[ItemState, frozenset[ItemState]] = {
    S.QUEUED: frozenset({S.VALIDATING, S.PAUSED, S.CANCELLED, S.FAILED}),
    S.VALIDATING: frozenset({S.OPTIMIZING, S.READY, S.REJECTED, S.FAILED, S.CANCELLED, S.QUEUED,
                             S.PAUSED}),
    S.OPTIMIZING: frozenset({S.READY, S.FAILED, S.CANCELLED, S.QUEUED, S.PAUSED}),
    S.READY: frozenset({S.UPLOADING, S.PAUSED, S.CANCELLED, S.QUEUED, S.DONE, S.FAILED}),
    S.UPLOADING: frozenset({S.PAUSED, S.VERIFYING, S.FAILED, S.CANCELLED, S.READY, S.QUEUED,
                            S.DONE}),
    S.PAUSED: frozenset({S.READY, S.QUEUED, S.CANCELLED, S.UPLOADING}),
    S.VERIFYING: frozenset({S.DONE, S.FAILED, S.READY, S.QUEUED}),
    S.DONE: frozenset(),
    S.FAILED: frozenset({S.QUEUED, S.READY, S.CANCELLED}),
    S.REJECTED: frozenset({S.QUEUED}),  # re-check after the teacher changed the category
    S.CANCELLED: frozenset({S.QUEUED}),
}

FINISHED = frozenset({S.DONE, S.REJECTED, S.CANCELLED})
ACTIVE = frozenset({S.VALIDATING, S.OPTIMIZING, S.UPLOADING, S.VERIFYING})
#: States an item is put back from when the app restarts (it was mid-work when it stopped).
INTERRUPTED = frozenset({S.VALIDATING, S.OPTIMIZING, S.UPLOADING, S.VERIFYING})


class InvalidTransition(RuntimeError):
    pass


def can_transition(src: ItemState, dst: ItemState) -> bool:
    return src == dst or dst in TRANSITIONS[src]


def check_transition(src: ItemState, dst: ItemState) -> None:
    if not can_transition(src, dst):
        raise InvalidTransition(f"an item cannot go from {src.value} to {dst.value}")
