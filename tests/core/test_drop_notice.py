"""The line the window and ``upload`` print after a drop: why it added nothing, or what
else it met; nothing at all when every file simply went into the queue."""

from __future__ import annotations

import pytest

from toolbox_uploader.commands.shown import shown
from toolbox_uploader.core.drop_notice import drop_notice
from toolbox_uploader.core.events import DropFinished

WEEK = ("/home/t/Week 3",)
DENIED = "You do not have permission to read this folder."


@pytest.mark.parametrize(("drop", "line"), [
    (DropFinished(WEEK), "Nothing to add: “Week 3” is empty."),
    (DropFinished(("/a", "/b")), "Nothing to add: these 2 items are empty."),
    (DropFinished(WEEK, skipped=4),
     "Nothing to add: “Week 3” holds only hidden or system files."),
    (DropFinished(WEEK, already_queued=12, skipped=1),
     "Nothing new: all 12 files from “Week 3” are already in the queue."),
    (DropFinished(WEEK, already_done=12),
     "Nothing new: all 12 files from “Week 3” are already uploaded."),
    (DropFinished(WEEK, already_done=2, already_queued=1),
     "Nothing new: all 3 files from “Week 3” are already in the queue."),
    (DropFinished(("/t/plan.pdf",), already_done=1),
     "Nothing new: “plan.pdf” is already uploaded."),
    (DropFinished(WEEK, unreadable=1, problem=DENIED), f"Could not open “Week 3”. {DENIED}"),
    (DropFinished(WEEK, missing=1, problem="It does not exist (moved or deleted?)."),
     "Could not open “Week 3”. It does not exist (moved or deleted?)."),
    (DropFinished(WEEK, missing=2, problem="The link points to nothing."),
     "Nothing added: 2 of the files could not be opened. The link points to nothing."),
    (DropFinished(WEEK, already_done=3, missing=1),
     "Nothing new: 3 files from “Week 3” are already uploaded; 1 could not be opened."),
    (DropFinished(WEEK, added=10, already_queued=2),
     "Added 10 files; 2 were already in the queue."),
    (DropFinished(WEEK, added=1, already_done=1), "Added 1 file; 1 was already uploaded."),
    (DropFinished(WEEK, added=4, picked_up=2, already_queued=1),
     "Added 4 files, sending 2 again; 1 was already in the queue."),
    (DropFinished(WEEK, picked_up=3), "Sending 3 files again."),
    (DropFinished(WEEK, added=5, unreadable=1), "Added 5 files; 1 could not be opened."),
])
def test_the_line_for_each_outcome(drop: DropFinished, line: str) -> None:
    assert drop_notice(drop) == line


def test_a_drop_that_only_added_says_nothing() -> None:
    """Its rows say it; a line on top would be noise (hidden files skipped are no news)."""
    assert drop_notice(DropFinished(WEEK, added=40, skipped=3)) is None


def test_names_are_shown_safely() -> None:
    drop = DropFinished(("/t/Week\x1b]0;x\x07 3",))
    assert drop_notice(drop, shown) == "Nothing to add: “Week\\x1b]0;x\\x07 3” is empty."
