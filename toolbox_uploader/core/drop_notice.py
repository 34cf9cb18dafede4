"""The one line a teacher reads after a drop, a paste or ``upload PATHS``: why nothing was
added ("… is empty", "… already in the queue"), or what else happened besides adding.

Shared by the window's status bar and the ``upload`` command, so both say the same thing.
A drop whose files all simply went into the queue gets no line: its rows say it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePath

from toolbox_uploader.core.events import DropFinished
from toolbox_uploader.core.validation.names import printable_name
from toolbox_uploader.core.walk import own_folders_note


def _files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"


def _what(drop: DropFinished, show: Callable[[str], str]) -> tuple[str, bool]:
    """How the drop is named ("“Week 3”", or "these 3 items"), and whether that is one."""
    if len(drop.paths) == 1:
        path = drop.paths[0]
        return f"“{show(PurePath(path).name or path)}”", True
    return f"these {len(drop.paths)} items", False


def drop_notice(drop: DropFinished, show: Callable[[str], str] = printable_name) -> str | None:
    """The sentence for ``drop``, or None when there is nothing to say. ``show`` makes a
    file name safe where it is printed (a terminal escapes control characters).

    The app's own folders met on the way are named after it (``walk.own_folders_note``):
    skipped without a word, a drop of the home folder would look as if its queue and token
    were being uploaded, or (holding nothing else) as if it held only hidden files."""
    line = _outcome(drop, show)
    note = own_folders_note(Path(folder) for folder in drop.own_folders)
    if note is None:
        return line
    return show(note) if line is None else f"{line} {show(note)}"


def _outcome(drop: DropFinished, show: Callable[[str], str]) -> str | None:
    what, one = _what(drop, show)
    existing = drop.already_queued + drop.already_done
    not_opened = drop.missing + drop.unreadable
    where = ("already uploaded" if drop.already_done and not drop.already_queued
             else "already in the queue")
    if drop.new_work == 0:
        if existing == 0 and not_opened == 0:
            if drop.skipped > len(drop.own_folders):
                return (f"Nothing to add: {what} {'holds' if one else 'hold'} only hidden or "
                        "system files.")
            if drop.skipped:  # only the app's own folders: the note that follows says so
                return f"Nothing to add from {what}."
            return f"Nothing to add: {what} {'is' if one else 'are'} empty."
        if existing == 0:
            problem = f" {drop.problem}" if drop.problem else ""
            if one and not_opened == 1:
                return f"Could not open {what}.{problem}"
            return f"Nothing added: {not_opened} of the files could not be opened.{problem}"
        if one and existing == 1 and not not_opened:
            return f"Nothing new: {what} is {where}."
        line = (f"Nothing new: {'all ' if not not_opened else ''}{_files(existing)} from "
                f"{what} {'is' if existing == 1 else 'are'} {where}")
        if not_opened:
            line += f"; {not_opened} could not be opened"
        return line + "."
    if not existing and not not_opened and not drop.picked_up:
        return None  # all new: the rows say it
    parts: list[str] = []
    if drop.added:
        parts.append(f"Added {_files(drop.added)}")
    if drop.picked_up:
        again = f"sending {drop.picked_up} again" if drop.added else \
            f"Sending {_files(drop.picked_up)} again"
        parts.append(again)
    line = ", ".join(parts)
    if existing:
        line += f"; {existing} {'was' if existing == 1 else 'were'} {where}"
    if not_opened:
        line += f"; {not_opened} could not be opened"
    return line + "."
