"""Numbers and states as a teacher reads them: "1.2 GB", "about 2 min left", "Uploading".

Sizes come from ``core.sizes``, the units every message of the app and the server uses.
"""

from __future__ import annotations

import datetime as dt
import math
import time

from toolbox_uploader.core import sizes
from toolbox_uploader.core.categories import CATEGORIES
from toolbox_uploader.core.events import ALREADY_UPLOADED, ItemSnapshot, Reason
from toolbox_uploader.core.scheduler import has_countdown, without_countdown
from toolbox_uploader.core.states import ItemState

#: The reason code of a row that waits because the server cannot be reached
#: (``core.scheduler.decide``).
OFFLINE = "offline"

STATE_LABELS: dict[ItemState, str] = {
    ItemState.QUEUED: "Waiting",
    ItemState.VALIDATING: "Checking",
    ItemState.OPTIMIZING: "Shrinking photo",
    ItemState.READY: "Ready",
    ItemState.UPLOADING: "Uploading",
    ItemState.PAUSED: "Paused",
    ItemState.VERIFYING: "Verifying",
    ItemState.DONE: "Done",
    ItemState.FAILED: "Failed",
    ItemState.REJECTED: "Not accepted",
    ItemState.CANCELLED: "Cancelled",
}


def human_size(size: int | float | None) -> str:
    return "—" if size is None else sizes.human_size(size)


def human_speed(speed: float) -> str:
    return f"{human_size(speed)}/s" if speed > 0 else ""


def human_duration(seconds: float | None) -> str:
    """A rounded, calm estimate: "a few seconds", "about 2 min", "about 1 h 20 min"."""
    if seconds is None or seconds < 0:
        return ""
    if seconds < 10:
        return "a few seconds"
    if seconds < 55:  # 55-59 s would round to "60 s": that is "about 1 min"
        return f"{round(seconds / 10) * 10} s"
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return f"about {minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h {minutes} min" if minutes else f"about {hours} h"


def shorter_time_left(text: str) -> str | None:
    """The same time in fewer letters, or None: for a Time left cell too narrow for ``text``.

    The column keeps a small minimum so the window can be narrow, and cut by Qt a time
    loses its unit or its number ("a few secon…", "about 1 h 2…"). "about" can go (the
    heading says it is time left, and a time left is an estimate); "a few seconds" comes
    after "10 s"; a retry's clock time keeps its clock (the status says it waits to retry).
    """
    if text == "a few seconds":
        return "under 10 s"
    if text.startswith("about "):
        return text.removeprefix("about ")
    if text.startswith("retry at "):
        return text.removeprefix("retry ")
    return None


def category_label(name: str) -> str:
    category = CATEGORIES.get(name)
    return category.label if category else name


def reason_text(item: ItemSnapshot) -> str:
    """Why the row is where it is, with the time of an automatic retry as a clock time
    (the engine's "next try in N s" was true when it was written, not when it is read;
    a row paused or cancelled since waits for no try at all)."""
    if item.reason is None:
        return ""
    if item.state is ItemState.FAILED and item.next_attempt_at is not None:
        when = dt.datetime.fromtimestamp(item.next_attempt_at).strftime("%H:%M:%S")
        return f"{without_countdown(item.reason.message)} Next try at {when}."
    if has_countdown(item.reason.message):
        # Paused or cancelled while waiting to retry: that countdown stopped with it.
        return without_countdown(item.reason.message)
    return item.reason.message


def next_try_text(next_attempt_at: float, now: float | None = None) -> str:
    """A row's countdown to its automatic retry, as the seconds go by: "retry in 12 s".
    Short, to fit the time-left column of a narrow window; the status says what it waits for."""
    seconds = math.ceil(next_attempt_at - (time.time() if now is None else now))
    if seconds <= 0:
        return "retrying…"  # due: the engine's next snapshot says how it went
    if seconds < 60:
        return f"retry in {seconds} s"
    minutes = math.ceil(seconds / 60)
    if minutes < 10:  # the server asked for a long wait (Retry-After)
        return f"retry in {minutes} min"
    return dt.datetime.fromtimestamp(next_attempt_at).strftime("retry at %H:%M")


def already_uploaded(item: ItemSnapshot) -> bool:
    return item.reason is not None and item.reason.code == ALREADY_UPLOADED


def status_text(item: ItemSnapshot) -> str:
    """The words in the status column; the reason itself goes to the tooltip and details."""
    label = STATE_LABELS.get(item.state, item.state.value)
    if item.state is ItemState.FAILED and item.next_attempt_at is not None:
        # The countdown itself is in the time-left column (``next_try_text``).
        offline = item.reason is not None and item.reason.code == OFFLINE
        return "Waiting for network" if offline else "Waiting to retry"
    if item.state is ItemState.UPLOADING and item.resumed_from:
        return f"Resumed at {human_size(item.resumed_from)}"
    if item.state is ItemState.PAUSED and item.bytes_sent and item.size:
        return f"{label} at {item.progress:.0%}"
    if item.removed_from_server:
        return "Deleted on the server"
    if item.state is ItemState.DONE and already_uploaded(item):
        return "Already on the server"
    if item.state is ItemState.DONE and item.warnings:
        return f"{label}, with notes"
    return label


def batch_text(files_done: int, files_total: int, bytes_done: int, bytes_total: int,
               eta: float | None, files_failed: int = 0) -> str:
    """The status bar line: "12 of 340 files · 1.2 GB of 3.4 GB · about 2 min left", and
    once every file is settled, how it ended: "35 of 38 files uploaded · 3 not sent".

    No time once no bytes remain: refused files keep ``files_done`` below ``files_total``
    for good, and an estimate of zero seconds would still read "a few seconds left".
    Callers pass ``eta=None`` while nothing is being worked on (all paused or offline).
    """
    if not files_total:
        return "No files in the queue"
    files = "file" if files_total == 1 else "files"  # "0 of 1 file", "1 of 3 files"
    if files_failed and files_done + files_failed == files_total:
        return (f"{files_done} of {files_total} {files} uploaded · "
                f"{files_failed} not sent")
    parts = [
        f"{files_done} of {files_total} {files}",
        f"{human_size(bytes_done)} of {human_size(bytes_total)}",
    ]
    if eta is not None and eta > 0 and files_done < files_total and bytes_done < bytes_total:
        parts.append(f"{human_duration(eta)} left")
    return " · ".join(parts)


def notes(item: ItemSnapshot) -> tuple[Reason, ...]:
    """The row's warnings worth a note (amber, "Good to know"). "Already uploaded earlier."
    is left out where the row's reason says it: it is good news, and the headline, the
    status and the reason already tell it."""
    if item.reason is None or item.reason.code != ALREADY_UPLOADED:
        return item.warnings
    return tuple(w for w in item.warnings if w.code != ALREADY_UPLOADED)
