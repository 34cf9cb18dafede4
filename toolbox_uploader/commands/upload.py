"""``toolbox-uploader upload PATHS...``: the engine without the window.

The same ``Engine`` as the desktop app, on the same session store, so running the command
again after Ctrl+C or a crash resumes the stored items (same paths → same items) instead
of sending everything again. Without ``--server``/``--tus-endpoint`` the embedded server
is started, as the app does. ``-`` reads standard input as one streaming upload of unknown
length (tus ``Upload-Defer-Length``); that one cannot resume after the command ends,
because the bytes of a pipe are gone.

Exit codes: 0 all uploaded, 1 something failed or was rejected (listed with reasons),
2 usage error, 130 interrupted (items stay resumable). Stored items of files deleted since
an earlier run are not this run's files: they are mentioned, never counted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolbox_uploader.core.events import EngineEvent, ItemSnapshot

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130
LOCAL_SERVER_KEY = "local"


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1 or int(text) > 64:
        raise argparse.ArgumentTypeError("must be a whole number from 1 to 64")
    return int(text)


def _bandwidth(text: str) -> int:
    from toolbox_uploader.commands.serve import positive_size

    return positive_size(text)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "upload",
        help="check and upload files or folders (resumable)",
        description="Validate, optimize and upload files and folders. Running the same "
                    "command again after an interruption resumes where it stopped.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="files or folders to upload; '-' reads standard input")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--server", metavar="URL",
                       help="a ToolBox server, e.g. http://school.example:8765 "
                            "(default: start the built-in local server)")
    where.add_argument("--tus-endpoint", metavar="URL",
                       help="any tus 1.0 upload endpoint, e.g. http://host:1080/files/")
    parser.add_argument("--token", help="sign-in token (default: $TOOLBOX_UPLOADER_TOKEN, "
                                        "then the system keyring); write --token=VALUE when "
                                        "the token starts with '-'")
    parser.add_argument("--category", help="upload category (default educational_content)")
    parser.add_argument("--concurrency", type=_positive_int, default=3, metavar="N",
                        help="files sent at the same time (default 3)")
    parser.add_argument("--no-optimize", action="store_true",
                        help="send pictures as they are (no resizing or re-encoding)")
    parser.add_argument("--bandwidth-limit", type=_bandwidth, metavar="BYTES",
                        help="cap for all uploads together, bytes per second (e.g. 2M)")
    parser.add_argument("--max-chunk-size", type=_bandwidth, metavar="BYTES",
                        help="largest piece sent in one request (e.g. 4M; at least 1M); "
                             "smaller pieces lose less on a flaky link")
    parser.add_argument("--name", help="file name for an upload from standard input")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON event per line instead of progress bars")
    parser.set_defaults(run=run)


@dataclass(frozen=True, slots=True)
class _Target:
    server_url: str | None
    tus_endpoint: str | None
    token: str | None
    server_key: str | None


def _url(text: str, option: str) -> str:
    from urllib.parse import urlsplit

    from toolbox_uploader.cli import UsageError

    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{option} needs an http(s) URL, not {text!r}")
    return text


def _check_args(args: argparse.Namespace) -> tuple[list[Path], bool, str]:
    from toolbox_uploader.cli import UsageError
    from toolbox_uploader.core.categories import UnknownCategoryError, get_category

    category = args.category or "educational_content"
    try:
        get_category(category)
    except UnknownCategoryError as exc:
        raise UsageError(str(exc)) from None
    if args.server:
        _url(args.server, "--server")
    if args.tus_endpoint:
        _url(args.tus_endpoint, "--tus-endpoint")
    stdin = "-" in args.paths
    if stdin and len(args.paths) > 1:
        raise UsageError("'-' (standard input) cannot be combined with other paths")
    if args.name and not stdin:
        raise UsageError("--name is only for uploads from standard input ('-')")
    paths: list[Path] = []
    if not stdin:
        for text in args.paths:
            path = Path(text).expanduser()
            if not path.exists():
                raise UsageError(f"{text}: no such file or folder")
            paths.append(path.resolve())
    return paths, stdin, category


def run(args: argparse.Namespace) -> int:
    paths, stdin, category = _check_args(args)
    from toolbox_uploader import paths as app_paths
    from toolbox_uploader.core import credentials

    embedded = None
    if args.server or args.tus_endpoint:
        address = (args.server or args.tus_endpoint).rstrip("/")
        token = credentials.resolve_token(args.token, address)
        target = _Target(args.server, args.tus_endpoint, token, None)
    else:
        from toolbox_uploader.server.config import ServerConfig
        from toolbox_uploader.server.embedded import EmbeddedServer

        # The app's local server, on its last port: links it handed out stay valid.
        embedded = EmbeddedServer(ServerConfig(data_dir=app_paths.server_data_dir(), port=0),
                                  port_file=app_paths.local_server_port_path())
        try:
            handle = embedded.start()
        except (RuntimeError, TimeoutError, OSError) as exc:
            print(f"toolbox-uploader upload: cannot start the local server: {exc}",
                  file=sys.stderr)
            return EXIT_FAILED
        target = _Target(handle.url, None, args.token or handle.token, LOCAL_SERVER_KEY)
    try:
        if stdin:
            from toolbox_uploader.core.stream_upload import upload_stdin

            return upload_stdin(target.server_url, target.tus_endpoint, target.token,
                                name=args.name or "stdin.bin", category=category,
                                as_json=args.json)
        return _upload_paths(args, target, paths, category)
    finally:
        if embedded is not None:
            embedded.stop()


def _belongs(paths: list[Path]) -> Callable[[str], bool]:
    roots = [str(p) for p in paths]

    def check(source: str) -> bool:
        return any(source == r or source.startswith(r.rstrip(os.sep) + os.sep) for r in roots)

    return check


def _gone_before(stored: Iterable[ItemSnapshot], server_key: str,
                 belongs: Callable[[str], bool], paths: list[Path]) -> set[str]:
    """Sources of stored items under ``paths`` whose file was deleted before this run and
    that the walk does not find again: an earlier run's files, not this command's.

    Checked before the files are queued, so a file that goes away while this run works on
    it still counts (and fails the run). Names that are not text are stored escaped and
    never exist as written; the walk tells whether those are still there."""
    candidates = {s.source_path for s in stored if s.server == server_key
                  and belongs(s.source_path) and not os.path.lexists(s.source_path)}
    if not candidates:
        return set()
    from toolbox_uploader.core.validation.names import printable_name
    from toolbox_uploader.core.walk import walk_paths

    found = {printable_name(str(entry.path.absolute())) for entry in walk_paths(paths)}
    return candidates - found


def _upload_paths(args: argparse.Namespace, target: _Target, paths: list[Path],
                  category: str) -> int:
    from toolbox_uploader.core.engine import Engine, EngineBusyError, EngineConfig
    from toolbox_uploader.core.states import ItemState

    engine = Engine(EngineConfig(
        server_url=target.server_url, tus_endpoint=target.tus_endpoint, token=target.token,
        server_key=target.server_key, concurrency=args.concurrency,
        optimize_images=not args.no_optimize, bandwidth_limit=args.bandwidth_limit,
        max_chunk_size=args.max_chunk_size,
    ))
    try:
        engine.start()
    except EngineBusyError as exc:
        print(f"toolbox-uploader upload: {exc}", file=sys.stderr)
        return EXIT_FAILED
    belongs = _belongs(paths)
    key = engine.server_key
    gone = _gone_before(engine.snapshot(), key, belongs, paths)

    def mine(source: str) -> bool:
        return belongs(source) and source not in gone

    view = _JsonView(mine, key) if args.json else _TerminalView(mine, key)
    engine.subscribe(view.on_events)
    try:
        engine.add_paths(paths, category)
        while not engine.wait_idle(0.25):
            view.refresh()
    except KeyboardInterrupt:
        engine.stop()
        view.close()
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    stored = [s for s in engine.snapshot() if s.server == key and belongs(s.source_path)]
    engine.stop()  # delivers the last coalesced batch, then ends
    view.close()
    items = [s for s in stored if s.source_path not in gone]
    left = [s for s in _current(s for s in stored if s.source_path in gone)
            if s.state is not ItemState.DONE]
    return _summarise(items, args.json, left)


def _current(items: Iterable[ItemSnapshot]) -> list[ItemSnapshot]:
    """One item per file: the newest. A file edited after it was sent is queued again as a
    new item, and the old one stays in the store as history."""
    latest: dict[str, ItemSnapshot] = {}
    for snap in items:
        kept = latest.get(snap.source_path)
        if kept is None or snap.id > kept.id:
            latest[snap.source_path] = snap
    return sorted(latest.values(), key=lambda snap: snap.id)


def _totals(items: Iterable[ItemSnapshot]) -> dict[str, int]:
    from toolbox_uploader.core.states import ItemState

    current = [s for s in _current(items) if s.state is not ItemState.CANCELLED]
    failed = (ItemState.FAILED, ItemState.REJECTED)
    return {
        "files_total": len(current),
        "files_done": sum(1 for s in current if s.state is ItemState.DONE),
        "files_failed": sum(1 for s in current if s.state in failed),
        "bytes_total": sum(s.upload_size or 0 for s in current),
        "bytes_done": sum((s.upload_size or 0) if s.state is ItemState.DONE else s.bytes_sent
                          for s in current),
    }


def _newer(latest: dict[int, ItemSnapshot], snaps: Iterable[ItemSnapshot], *, added: bool,
           server_key: str, mine: Callable[[str], bool]) -> list[ItemSnapshot]:
    """Keep this command's snapshots in ``latest`` and return the ones that are news.

    An ``ItemsAdded`` snapshot is the item as it was when added; when the item has already
    moved on (a file found on the server is done at once) it is old news, not a step back."""
    news = []
    for snap in snaps:
        if snap.server != server_key or not mine(snap.source_path):
            continue
        if added and snap.id in latest:
            continue
        latest[snap.id] = snap
        news.append(snap)
    return news


def _summarise(items: list[ItemSnapshot], as_json: bool,
               gone: Sequence[ItemSnapshot] = ()) -> int:
    """Print the outcome, return the exit code. ``gone``: unfinished items of files deleted
    since an earlier run, mentioned but not failing this one."""
    from toolbox_uploader.core.states import ItemState

    items = _current(items)
    done = [s for s in items if s.state is ItemState.DONE]
    problems = [s for s in items if s.state is not ItemState.DONE]
    code = EXIT_OK if not problems else EXIT_FAILED
    if as_json:
        print(json.dumps({
            "event": "summary", "uploaded": len(done), "exit_code": code,
            "problems": [_item_json(s) for s in problems],
            "gone": [_item_json(s) for s in gone],
        }), flush=True)
        return code
    already = sum(1 for s in done if s.reason and s.reason.code == "already_uploaded")
    line = f"{len(done)} of {len(items)} files uploaded"
    if already:
        line += f" ({already} were already on the server)"
    print(line)
    for snap in problems:
        why = snap.reason.message if snap.reason else "not sent yet"
        print(f"  {snap.state.value.upper():9} {snap.relative_path}: {why}")
    for snap in gone:
        print(f"  {'GONE':9} {snap.relative_path}: no longer there; not counted")
    if any(s.reason and s.reason.code == "sign_in_needed" for s in problems):
        print("The server did not accept the token: pass --token=VALUE, set TOOLBOX_UPLOADER_TOKEN "
              "or sign in from the app, then run the same command again.", file=sys.stderr)
    return code


def _item_json(snap: ItemSnapshot) -> dict[str, Any]:
    return {
        "event": "item", "id": snap.id, "path": snap.source_path,
        "relative_path": snap.relative_path, "state": snap.state.value, "size": snap.size,
        "bytes_sent": snap.bytes_sent, "progress": round(snap.progress, 4),
        "speed": round(snap.speed, 1), "eta": None if snap.eta is None else round(snap.eta, 1),
        "attempts": snap.attempts, "next_attempt_at": snap.next_attempt_at,
        "reason": {"code": snap.reason.code, "message": snap.reason.message}
        if snap.reason else None,
        "warnings": [{"code": w.code, "message": w.message} for w in snap.warnings],
        "file_url": snap.file_url, "resumed_from": snap.resumed_from,
    }


class _JsonView:
    """One JSON object per line, printed from the engine thread (batches are ≤ 10/s)."""

    def __init__(self, mine: Callable[[str], bool], server_key: str) -> None:
        self._mine = mine
        self._key = server_key
        self._reader_gone = False
        self._latest: dict[int, ItemSnapshot] = {}

    def on_events(self, batch: list[EngineEvent]) -> None:
        from toolbox_uploader.core.events import (
            BatchProgress,
            ItemChanged,
            ItemsAdded,
            ServerStatus,
        )

        lines = []
        for event in batch:
            if isinstance(event, ItemsAdded | ItemChanged):
                snaps = event.items if isinstance(event, ItemsAdded) else (event.item,)
                for snap in _newer(self._latest, snaps, added=isinstance(event, ItemsAdded),
                                   server_key=self._key, mine=self._mine):
                    lines.append(_item_json(snap))
            elif isinstance(event, BatchProgress):
                # The engine's totals cover its whole queue; these cover this command's files.
                totals = _totals(self._latest.values())
                remaining = totals["bytes_total"] - totals["bytes_done"]
                lines.append({"event": "batch", **totals, "speed": round(event.speed, 1),
                              "eta": round(remaining / event.speed, 1)
                              if event.speed > 0 and remaining > 0 else None})
            elif isinstance(event, ServerStatus):
                lines.append({"event": "server", "reachable": event.reachable,
                              "message": event.message, "needs_sign_in": event.needs_sign_in})
        if lines and not self._reader_gone:
            try:
                sys.stdout.write("".join(json.dumps(line) + "\n" for line in lines))
                sys.stdout.flush()
            except BrokenPipeError:  # ``... --json | head``: the uploads go on, unprinted
                self._reader_gone = True

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass


class _TerminalView:
    """rich progress bars (one per active file plus a total); plain lines when piped."""

    def __init__(self, mine: Callable[[str], bool], server_key: str) -> None:
        import threading

        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._mine = mine
        self._key = server_key
        self._console = Console(stderr=False)
        self._lock = threading.Lock()
        self._latest: dict[int, ItemSnapshot] = {}
        self._changed: set[int] = set()
        self._batch: Any = None
        self._status: Any = None
        self._progress = Progress(
            TextColumn("{task.description}", justify="left"), BarColumn(),
            DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
            console=self._console, transient=False, disable=not self._console.is_terminal,
        )
        self._tasks: dict[int, Any] = {}
        self._total = self._progress.add_task("total", total=None)
        self._reported: set[int] = set()
        self._progress.start()

    def on_events(self, batch: list[EngineEvent]) -> None:
        from toolbox_uploader.core.events import (
            BatchProgress,
            ItemChanged,
            ItemsAdded,
            ServerStatus,
        )

        with self._lock:
            for event in batch:
                snaps: tuple[ItemSnapshot, ...] = ()
                if isinstance(event, ItemsAdded):
                    snaps = event.items
                elif isinstance(event, ItemChanged):
                    snaps = (event.item,)
                elif isinstance(event, BatchProgress):
                    self._batch = event
                elif isinstance(event, ServerStatus):
                    self._status = event
                for snap in _newer(self._latest, snaps, added=isinstance(event, ItemsAdded),
                                   server_key=self._key, mine=self._mine):
                    self._changed.add(snap.id)

    def refresh(self) -> None:
        from toolbox_uploader.core.states import FINISHED, ItemState

        with self._lock:
            changed = [self._latest[i] for i in self._changed]
            self._changed.clear()
            status, self._status = self._status, None
            mine = list(self._latest.values())
        if status is not None and (not status.reachable or status.needs_sign_in):
            self._progress.console.print(f"[yellow]{status.message}[/yellow]")
        for snap in changed:
            task = self._tasks.get(snap.id)
            if snap.state is ItemState.UPLOADING:
                if task is None:
                    task = self._tasks[snap.id] = self._progress.add_task(
                        snap.relative_path[-40:], total=snap.upload_size)
                self._progress.update(task, completed=snap.bytes_sent, total=snap.upload_size)
            elif task is not None:
                self._progress.remove_task(task)
                del self._tasks[snap.id]
            if snap.state in FINISHED or snap.state is ItemState.FAILED:
                self._report(snap)
        totals = _totals(mine)
        self._progress.update(self._total, total=totals["bytes_total"] or None,
                              completed=totals["bytes_done"],
                              description=f"total {totals['files_done']}/"
                                          f"{totals['files_total']} files")

    def _report(self, snap: ItemSnapshot) -> None:
        from toolbox_uploader.core.states import ItemState

        if snap.id in self._reported and snap.state is not ItemState.FAILED:
            return
        self._reported.add(snap.id)
        if snap.state is ItemState.DONE:
            note = " (already on the server)" if snap.reason and \
                snap.reason.code == "already_uploaded" else ""
            self._progress.console.print(f"[green]✓[/green] {snap.relative_path}{note}")
        elif snap.state is ItemState.FAILED and snap.next_attempt_at is not None:
            why = snap.reason.message if snap.reason else ""
            self._progress.console.print(f"[yellow]…[/yellow] {snap.relative_path}: {why}")
        else:
            why = snap.reason.message if snap.reason else snap.state.value
            self._progress.console.print(f"[red]✗[/red] {snap.relative_path}: {why}")

    def close(self) -> None:
        self.refresh()
        self._progress.stop()

