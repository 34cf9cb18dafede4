"""``toolbox-uploader queue list|retry|clear``: look at and tidy the stored upload queue.

It works on the session store directly, under the same lock as an engine, so ``retry`` and
``clear`` refuse to touch the queue while the desktop app or an ``upload`` command is using
it. ``list`` then reads it read-only instead (WAL lets a reader in beside the one writer),
so progress can be watched from another terminal. ``retry`` puts failed items back in line;
the next ``upload`` of those paths (or the app) sends them.

With the lock ours, nothing is running: an item still stored as uploading (or validating…)
was cut off by a crash or ``kill -9`` and is listed as interrupted, as the next run will
treat it; the stored row is left as it is.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolbox_uploader.core.session_store import ItemRecord, SessionStore

EXIT_OK, EXIT_FAILED = 0, 1
#: ``queue list``'s width into a pipe: wide enough for any row.
_UNCUT = 100_000
#: Below this many columns the table is narrow (see ``_print_list``).
_NARROW = 120


def _item_id(text: str) -> int:
    if not (text.isascii() and text.isdigit()):  # "²" is a digit to ``isdigit``, not to ``int``
        raise argparse.ArgumentTypeError(f"{text!r} is not an item number")
    return int(text)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "queue", help="show or manage the stored upload queue",
        description="Show or manage the upload queue that the app and 'upload' share.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list queued, running and finished items")
    listing.add_argument("--json", action="store_true", help="one JSON object per item")
    listing.add_argument("--state", help="only items in this state (e.g. failed)")
    retry = actions.add_parser("retry", help="put failed (or given) items back in line")
    retry.add_argument("ids", nargs="*", type=_item_id, metavar="ID",
                       help="item numbers from 'queue list' (default: every failed item)")
    clear = actions.add_parser("clear", help="remove finished items (done, cancelled, rejected)")
    clear.add_argument("--all", action="store_true",
                       help="remove every item, unfinished ones too (not resumed: their "
                            "partial uploads are deleted from their server the next time "
                            "the app or 'upload' connects to it)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from toolbox_uploader import paths
    from toolbox_uploader.cli import UsageError
    from toolbox_uploader.core.lock import EngineBusyError, StoreLock
    from toolbox_uploader.core.session_store import SessionStore, StoreError
    from toolbox_uploader.core.states import ItemState

    if getattr(args, "state", None) is not None:  # "" too: a typo, not "every state"
        # ``--state FAILED`` as ``upload`` prints it
        args.state = args.state.strip().lower() or args.state
        try:
            ItemState(args.state)
        except ValueError:
            known = ", ".join(s.value for s in ItemState)
            raise UsageError(f"unknown state {args.state!r} (known: {known})") from None
    db = paths.session_db_path()
    if args.action == "list" and not db.exists():  # a look creates no queue (nor folders)
        _print_list([], args.json, args.state, stored=0)
        return EXIT_OK
    lock = StoreLock(db)
    try:
        lock.acquire()
    except EngineBusyError as exc:
        if args.action == "list":
            return _list_live(db, lock.path, args.json, args.state, exc)
        print(f"toolbox-uploader queue: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        try:
            store = SessionStore(db)
        except StoreError as exc:
            print(f"toolbox-uploader queue: {exc}", file=sys.stderr)
            return EXIT_FAILED
        try:
            if args.action == "list":
                return _list(store, args.json, args.state)
            if args.action == "retry":
                return _retry(store, args.ids)
            return _clear(store, args.all)
        except StoreError as exc:  # damaged: one line, the file left as it is
            print(f"toolbox-uploader queue: {exc}", file=sys.stderr)
            return EXIT_FAILED
        except sqlite3.Error as exc:  # a read-only file, a full disk: nothing was changed
            print(f"toolbox-uploader queue: the upload queue file {db} could not be changed "
                  f"({exc})", file=sys.stderr)
            return EXIT_FAILED
        finally:
            store.close()
    finally:
        lock.release()


def _note(message: str | None) -> str | None:
    """A stored reason as true now: "next try in 4 s" was only true when it was written."""
    from toolbox_uploader.core.scheduler import without_countdown

    return without_countdown(message) if message else message


def _stale(record: ItemRecord, live: bool) -> bool:
    """Stored as under way while no process works on the queue: cut off by a crash."""
    from toolbox_uploader.core.states import INTERRUPTED

    return not live and record.state in INTERRUPTED


def _stale_note(record: ItemRecord) -> str:
    """What the next run does with it (``SessionStore.restore_interrupted``)."""
    from toolbox_uploader.core.states import ItemState

    sending = record.state in (ItemState.UPLOADING, ItemState.VERIFYING)
    return (f"Interrupted while {record.state.value}; "
            f"{'resumes' if sending else 'is checked again'} on the next run.")


def _json(record: ItemRecord, live: bool = False) -> dict[str, Any]:
    return {
        "id": record.id, "state": record.state.value, "path": record.source_path,
        "relative_path": record.relative_path, "category": record.category,
        "size": record.size, "bytes_sent": record.bytes_sent, "server": record.server_key,
        "attempts": record.attempts, "sha256": record.sha256,
        "reason": {"code": record.reason_code, "message": _note(record.reason_message)}
        if record.reason_code else None,
        "warnings": [{"code": w.code, "message": w.message} for w in record.warnings],
        "updated_at": record.updated_at,
        # "state" is the stored one; these say how true it is now.
        "interrupted": _stale(record, live), "live": live,
    }


def _list(store: SessionStore, as_json: bool, state: str | None, live: bool = False) -> int:
    everything = store.items()
    records = [r for r in everything if state is None or r.state.value == state]
    # A reader that leaves early (``queue list --json | head -1``) is ``cli.main``'s to
    # handle (``ClosableStdout``): not a failure.
    _print_list(records, as_json, state, len(everything), live)
    return EXIT_OK


def _list_live(db: Path, lock_path: Path, as_json: bool, state: str | None,
               busy: Exception) -> int:
    """List a queue that another process owns, from a read-only copy of it."""
    from toolbox_uploader.core.session_store import SessionStore, StoreError

    with tempfile.TemporaryDirectory(prefix="toolbox-queue-") as folder:
        try:
            copy = _live_copy(db, Path(folder))
        except (sqlite3.Error, _NotWal) as exc:
            print(f"toolbox-uploader queue: {busy} (it cannot be read beside it: {exc})",
                  file=sys.stderr)
            return EXIT_FAILED
        try:
            store = SessionStore(copy)
        except StoreError as exc:  # written by a newer version, damaged
            print(f"toolbox-uploader queue: {exc}", file=sys.stderr)
            return EXIT_FAILED
        try:
            if not as_json:
                print(f"Live: another ToolBox Uploader{_owner(lock_path)} is using this "
                      "queue; this is what it has saved so far.")
            return _list(store, as_json, state, live=True)
        finally:
            store.close()


class _NotWal(Exception):
    """The queue is not in WAL mode, where a reader would hold up its owner's writes."""


def _live_copy(db: Path, folder: Path) -> Path:
    """A consistent copy of ``db`` in ``folder``, read without ever writing to ``db``.

    Read-only URI connection, no checkpoint; WAL means neither side waits for the other.
    SQLite's backup copies one snapshot, which ``SessionStore`` then opens as usual."""
    source = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    try:
        mode = source.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() != "wal":
            raise _NotWal(f"journal mode {mode}")
        copy = folder / db.name
        target = sqlite3.connect(copy)
        try:
            source.backup(target)
        finally:
            target.close()
        return copy
    finally:
        source.close()


def _owner(lock_path: Path) -> str:
    """" (process 1234)" from the lock file the owner wrote, when it says so."""
    try:
        pid = lock_path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return ""
    return f" (process {pid})" if pid.isdigit() else ""


def _print_list(records: list[ItemRecord], as_json: bool, state: str | None,
                stored: int, live: bool = False) -> None:
    from toolbox_uploader.commands.closable_stdout import print_json_line

    if as_json:
        for record in records:
            print_json_line(_json(record, live), flush=False)
        return
    if not records:
        # With --state, an empty answer says nothing about the rest of the queue.
        print("The upload queue is empty." if stored == 0 else
              f"No item is {state}; the queue holds {stored} other item(s).")
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from toolbox_uploader.commands.shown import shown

    console = Console()
    if not console.is_terminal:
        # A pipe or a log: one line per item, never cut at rich's 80 columns, so that
        # ``queue list | grep NAME`` finds the whole row.
        console = Console(width=_UNCUT)
    table = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0))
    # Only names, servers and notes wrap; on a narrow terminal (80 columns) the date goes
    # above its time, leaving them room to be read.
    for column in ("id", "state", "file", "size", "sent", "server", "updated", "note"):
        table.add_column(column, overflow="fold",
                         no_wrap=column not in ("file", "server", "note"),
                         justify="right" if column in ("id", "size", "sent") else "left")
    time_format = "%Y-%m-%d\n%H:%M" if console.width < _NARROW else "%Y-%m-%d %H:%M"
    for r in records:
        size = "?" if r.size is None else f"{r.size:,}"
        when = dt.datetime.fromtimestamp(r.updated_at).strftime(time_format)
        note = _note(r.reason_message) or ""
        shown_state = r.state.value
        if _stale(r, live):
            shown_state, note = "interrupted", f"{_stale_note(r)} {note}".strip()
        # Names and messages are data, never markup or terminal control sequences.
        table.add_row(str(r.id), shown_state, Text(shown(r.relative_path)), size,
                      f"{r.bytes_sent:,}", Text(shown(r.server_key)), when, Text(shown(note)))
    console.print(table)


def _retry(store: SessionStore, ids: list[int]) -> int:
    from toolbox_uploader.core.states import ItemState

    ids = list(dict.fromkeys(ids))  # "retry 5 5" retries item 5 once, and says so
    records = {r.id: r for r in store.items()}
    unknown = [i for i in ids if i not in records]
    if unknown:
        print(f"toolbox-uploader queue: no item {', '.join(map(str, unknown))}",
              file=sys.stderr)
        return EXIT_FAILED
    chosen = ([records[i] for i in ids] if ids
              else [r for r in records.values() if r.state is ItemState.FAILED])
    retried = 0
    for record in chosen:
        if record.state not in (ItemState.FAILED, ItemState.CANCELLED, ItemState.REJECTED):
            print(f"item {record.id} is {record.state.value}; only failed, cancelled or "
                  "rejected items can be retried", file=sys.stderr)
            continue
        resumable = record.state is ItemState.FAILED and record.validated_at is not None
        store.transition(record.id, ItemState.READY if resumable else ItemState.QUEUED,
                         next_attempt_at=None, reason_code=None, reason_message=None,
                         attempts=0, restarts=0, retryable=False)
        retried += 1
    print(f"{retried} item(s) back in the queue; the app or the next 'upload' sends them.")
    return EXIT_OK if retried == len(chosen) else EXIT_FAILED


def _clear(store: SessionStore, everything: bool) -> int:
    from toolbox_uploader.core.states import FINISHED

    doomed = [r.id for r in store.items() if everything or r.state in FINISHED]
    removed = store.remove(doomed)
    print(f"{len(removed)} item(s) removed from the queue.")
    return EXIT_OK
