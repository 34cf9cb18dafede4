"""Expand what a teacher dropped (files and folders) into the files to validate and upload.

Folders are walked depth-first in name order as file managers show it ("Week 2" before "Week
10", case aside: ``natural_key``), so rows arrive as the teacher sees the folder. Each file
gets a POSIX ``relative_path`` that starts with the dropped folder's own name
(``Lessons/week1/a.pdf``), so the server can rebuild the tree. Operating-system junk
(``.DS_Store``, ``Thumbs.db``, ``desktop.ini``, Office ``~$`` lock files, AppleDouble ``._``
files) and hidden folders (``.git``...) are skipped (counted in a ``WalkTally`` when one is
given, so a drop that only held such files can say so). Problems (symlink loops, broken
links, unreadable files or folders, pipes) come back as entries with an ``error`` instead of
exceptions, so one bad item never stops a drop.

A folder link is a loop when its target contains it: a folder on the walk path, or the
link's own folder or any folder above it on disk (even above the dropped folder), so a link
to a parent is refused right there and nothing outside the selection gets walked.

A folder link whose target lies inside the dropped folder is skipped without a row (it only
repeats files that are taken anyway): the real folder is walked under its own path, whatever
the names' order.

The app's own folders (config, data, cache, logs: the queue, its lock, the local server's
files and its secret token) are never walked, whatever path leads to them (``upload ..``,
a link): they are found by (dev, inode), counted in the tally's ``own_folders`` so the
caller can say so once. A dropped path inside one of them is refused with a reason.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from toolbox_uploader.core.events import Reason
from toolbox_uploader.core.natural_order import natural_key
from toolbox_uploader.core.validation.names import (
    NOT_TEXT_CODE,
    NOT_TEXT_MESSAGE,
    has_control_characters,
    printable_name,
)

#: Reason code of a dropped path that lies inside one of the app's own folders.
OWN_FOLDER_CODE = "app_folder"
OWN_FOLDER_MESSAGE = ("This is inside ToolBox Uploader's own folder (its queue, settings and "
                      "the local server's files and token); it is never uploaded.")

JUNK_FILES = frozenset({".ds_store", "thumbs.db", "ehthumbs.db", "desktop.ini", "icon\r"})
JUNK_PREFIXES = ("~$", "._")
SKIPPED_FOLDERS = frozenset({"__macosx", "$recycle.bin", "system volume information"})

log = logging.getLogger(__name__)


@dataclass(slots=True)
class WalkTally:
    """What a walk passed over without an entry: the hidden or system files and folders
    it skipped (a folder counts once, whatever it holds: it is never read)."""

    skipped: int = 0
    #: The app's own folders (or links into them) passed over: the caller says so once.
    own_folders: list[Path] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class WalkEntry:
    path: Path
    relative_path: str
    error: Reason | None = None


def is_junk_file(name: str) -> bool:
    lowered = name.lower()
    return lowered in JUNK_FILES or lowered.startswith(JUNK_PREFIXES)


def is_skipped_folder(name: str) -> bool:
    return name.startswith(".") or name.lower() in SKIPPED_FOLDERS


def own_folders() -> dict[tuple[int, int], Path]:
    """(dev, inode) → path of each existing folder where the app keeps its own files.

    Those of this run (``paths``: ``$TOOLBOX_UPLOADER_HOME``'s or the platform's), and the
    platform's too when ``$TOOLBOX_UPLOADER_HOME`` is set: the desktop app's queue and
    token live there whatever a script sets. Keyed by inode so any path to them matches.
    """
    from toolbox_uploader import paths as app_paths

    # Looked at, never made: a folder not there yet holds nothing to skip.
    found = [*app_paths.app_folders(), *app_paths.app_folders(platform=True)]
    keys: dict[tuple[int, int], Path] = {}
    for folder in found:
        try:
            info = folder.stat()
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode):
            keys.setdefault((info.st_dev, info.st_ino), folder)
    return keys


def own_folders_within(paths: Iterable[Path]) -> list[Path]:
    """The app's own folders that walking ``paths`` would meet by their real location
    (``upload ..``, ``upload ~``), for a command to say once that it skips them before
    its walk runs elsewhere (links into them deep inside are skipped all the same)."""
    reals: list[Path] = []
    for given in paths:
        try:
            reals.append(Path(given).resolve(strict=True))
        except (OSError, RuntimeError):
            continue
    inside: list[Path] = []
    for folder in own_folders().values():
        try:
            real = folder.resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if any(real == top or top in real.parents for top in reals):
            inside.append(folder)
    return inside


def own_folders_note(folders: Iterable[Path]) -> str | None:
    """The one line saying the app's own folders were skipped, or None for none."""
    names = sorted({printable_name(str(folder)) for folder in folders})
    if not names:
        return None
    return ("Skipped what belongs to ToolBox Uploader itself (its queue, settings and the "
            f"local server's files are never uploaded): {', '.join(names)}.")


def walk_paths(paths: Iterable[Path], tally: WalkTally | None = None) -> Iterator[WalkEntry]:
    """Yield every file under ``paths`` (files given directly are yielded as they are);
    ``tally`` counts what was skipped."""
    tally = tally if tally is not None else WalkTally()
    own = own_folders()
    for given in paths:
        path = Path(given)
        # ``..`` is named after the folder it is (``validate ..`` gave ``../docs/a.txt``)
        name = path.name if path.name not in ("", "..") else path.resolve().name
        try:
            info = path.stat()
        except FileNotFoundError:
            if path.is_symlink():
                yield WalkEntry(path, name, Reason("broken_link", "The link points to nothing."))
            else:
                yield WalkEntry(path, name, Reason(
                    "missing_file", "It does not exist (moved or deleted?)."))
            continue
        except OSError as exc:
            yield WalkEntry(path, name, _os_reason(exc))
            continue
        if own.keys() & _disk_ancestors(path):  # the token itself, or ``upload $HOME/data``
            yield WalkEntry(path, name, Reason(OWN_FOLDER_CODE, OWN_FOLDER_MESSAGE))
            continue
        if stat.S_ISDIR(info.st_mode):
            yield from _walk_folder(path, name, info, tally, own)
        elif stat.S_ISREG(info.st_mode):
            yield _file_entry(path, name)
        else:
            yield WalkEntry(path, name, _not_a_file())


def _walk_folder(root: Path, root_name: str, root_info: os.stat_result,
                 tally: WalkTally, own: dict[tuple[int, int], Path]) -> Iterator[WalkEntry]:
    root_key = (root_info.st_dev, root_info.st_ino)
    seen: set[tuple[int, int]] = {root_key}
    # (folder, its relative path, the (dev, inode) of it and every folder containing it,
    # on the walk path and on disk: a link to a parent of the dropped folder is a loop too)
    stack: list[tuple[Path, str, frozenset[tuple[int, int]]]] = [
        (root, root_name, frozenset(seen) | _disk_ancestors(root))
    ]
    while stack:
        folder, rel, ancestors = stack.pop()
        try:
            with os.scandir(folder) as scan:
                children = sorted(scan, key=lambda e: (natural_key(e.name), e.name))
        except OSError as exc:
            yield WalkEntry(folder, rel, _os_reason(exc, folder=True))
            continue
        subfolders: list[tuple[Path, str, frozenset[tuple[int, int]]]] = []
        for child in children:
            child_rel = f"{rel}/{child.name}" if rel else child.name
            child_path = Path(child.path)
            try:
                info = child.stat(follow_symlinks=True)
                if stat.S_ISDIR(info.st_mode) and not info.st_ino:
                    info = os.stat(child.path)  # Windows: an entry's cached stat has no ids
            except FileNotFoundError:
                yield WalkEntry(child_path, child_rel,
                                Reason("broken_link", "The link points to nothing."))
                continue
            except OSError as exc:
                yield WalkEntry(child_path, child_rel, _os_reason(exc))
                continue
            if stat.S_ISDIR(info.st_mode):
                if is_skipped_folder(child.name):
                    tally.skipped += 1
                    continue
                key = (info.st_dev, info.st_ino)
                linked = _disk_ancestors(child_path) if child.is_symlink() else frozenset()
                if key in own or own.keys() & linked:
                    tally.skipped += 1
                    tally.own_folders.append(child_path if linked else own[key])
                    continue
                if key in ancestors:
                    yield WalkEntry(child_path, child_rel, Reason(
                        "symlink_loop",
                        "This link points back to a folder that contains it; skipped.",
                    ))
                    continue
                inner = frozenset({key})
                if child.is_symlink():
                    real_rel = _place_in_drop(child_path, root_key, root_name)
                    if real_rel is not None:
                        log.info("%s links to %s, which is taken from its real place",
                                 printable_name(child_rel), printable_name(real_rel))
                        continue
                    inner |= linked  # its on-disk parents come along
                if key not in seen:  # a second link to a folder already walked adds nothing
                    seen.add(key)
                    subfolders.append((child_path, child_rel, ancestors | inner))
            elif stat.S_ISREG(info.st_mode):
                if is_junk_file(child.name):
                    tally.skipped += 1
                elif child.is_symlink() and own.keys() & _disk_ancestors(child_path):
                    tally.skipped += 1  # a link to the token or the queue
                    tally.own_folders.append(child_path)
                else:
                    yield _file_entry(child_path, child_rel)
            else:
                yield WalkEntry(child_path, child_rel, _not_a_file())
        stack.extend(reversed(subfolders))


def _disk_ancestors(folder: Path) -> frozenset[tuple[int, int]]:
    """(dev, inode) of ``folder``'s real location and of every folder above it on disk.

    A link to any of these contains the link itself, so following it would leave the
    selection (and loop); the walker refuses such links instead.
    """
    try:
        real = folder.resolve(strict=True)
    except (OSError, RuntimeError):
        return frozenset()
    keys: set[tuple[int, int]] = set()
    for path in (real, *real.parents):
        try:
            info = path.stat()
        except OSError:
            continue
        keys.add((info.st_dev, info.st_ino))
    return frozenset(keys)


def _place_in_drop(link: Path, root_key: tuple[int, int], root_name: str) -> str | None:
    """The relative path of a folder link's real target if the walk reaches it anyway.

    That is when the target lies inside the dropped folder and no folder on the way is
    one the walker skips (hidden, ``__MACOSX``...); then the link only repeats it, and
    which of the two paths got walked would depend on the names' order. Found by
    (dev, inode), so letter case and links above the dropped folder do not matter.
    """
    try:
        real = link.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    names: list[str] = []
    for path in (real, *real.parents):
        try:
            info = path.stat()
        except OSError:
            return None
        if (info.st_dev, info.st_ino) == root_key:
            if any(is_skipped_folder(name) for name in names):
                return None
            return "/".join(filter(None, [root_name, *reversed(names)]))
        names.append(path.name)
    return None


def _file_entry(path: Path, rel: str) -> WalkEntry:
    if printable_name(str(path)) != str(path):
        return WalkEntry(path, rel, Reason(NOT_TEXT_CODE, NOT_TEXT_MESSAGE))
    folder = rel.rpartition("/")[0]
    if has_control_characters(folder):  # the file's own name is the validator's to judge
        # Servers refuse such a path; said here, the file is refused before it is sent.
        return WalkEntry(path, rel, Reason(
            "control_characters", "A folder in its path has invisible control characters "
            "(a line break, or ones that reverse how it reads); rename the folder."))
    if not os.access(path, os.R_OK):
        return WalkEntry(path, rel, Reason(
            "unreadable", "You do not have permission to read this file."))
    return WalkEntry(path, rel)


def _not_a_file() -> Reason:
    return Reason("not_a_file", "This is not a regular file (a pipe, socket or device).")


def _os_reason(exc: OSError, *, folder: bool = False) -> Reason:
    what = "folder" if folder else "file"
    if exc.errno == errno.ELOOP:
        return Reason("symlink_loop", "The link points to itself in a loop; skipped.")
    if exc.errno in {errno.EACCES, errno.EPERM}:
        return Reason("unreadable", f"You do not have permission to read this {what}.")
    return Reason("unreadable", f"The {what} cannot be read ({exc.strerror or exc}).")
