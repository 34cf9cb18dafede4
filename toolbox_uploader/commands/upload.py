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

The engine retries a server that is down or never answers for ever (right for the app); a
script must end, so ``--give-up-after`` stops the command once nothing has moved for that
long while files wait for a retry (``_Watchdog``). A reader that closes standard output
(``... --json | head -1``) stops the printing, never the uploads or their exit code.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolbox_uploader.commands.closable_stdout import ClosableStdout, print_json_line
from toolbox_uploader.commands.shown import duration, shown, speaks_utf8
from toolbox_uploader.commands.validate import path_problem, path_text

if TYPE_CHECKING:
    from toolbox_uploader.core.engine import Engine
    from toolbox_uploader.core.events import DropFinished, EngineEvent, ItemSnapshot, Reason
    from toolbox_uploader.core.states import ItemState
    from toolbox_uploader.server.embedded import ServerHandle

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130
#: ``--max-chunk-size`` below this is refused (the engine's smallest piece).
MIN_CHUNK_SIZE = 1024 * 1024
DEFAULT_GIVE_UP_AFTER = 300.0
#: Fewest seconds between two "waiting to retry" lines, however often the reason changes.
WAITING_LINE_GAP = 30.0
#: What to do when the server refuses the token (401/403), for files and ``upload -`` alike.
TOKEN_REFUSED = ("The server did not accept the token: pass --token=VALUE, set "
                 "TOOLBOX_UPLOADER_TOKEN or sign in from the app, then run the same command "
                 "again.")


def _positive_int(text: str) -> int:
    # ASCII digits only: ``isdigit`` and ``int`` also take "３" (full-width) and "²"
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError("must be a whole number from 1 to 64")
    return int(text)


def _bandwidth(text: str) -> int:
    from toolbox_uploader.commands.serve import positive_size

    return positive_size(text)


def _seconds(text: str) -> float:
    try:  # ASCII only: ``float`` also reads "３" (full-width) and Arabic-Indic digits
        value = float(text) if text.isascii() else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 or more)")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "upload",
        help="check and upload files or folders (resumable)",
        description="Validate, optimize and upload files and folders. Running the same "
                    "command again after an interruption resumes where it stopped.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", type=path_text,
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
    from toolbox_uploader.core.categories import CATEGORIES

    parser.add_argument("--category", help="upload category (default educational_content; "
                                           f"one of {', '.join(CATEGORIES)})")
    parser.add_argument("--concurrency", type=_positive_int, default=3, metavar="N",
                        help="files sent at the same time (default 3)")
    parser.add_argument("--no-optimize", action="store_true",
                        help="send pictures as they are (no resizing or re-encoding)")
    parser.add_argument("--bandwidth-limit", type=_bandwidth, metavar="BYTES",
                        help="cap for all uploads together, bytes per second (e.g. 2M)")
    parser.add_argument("--max-chunk-size", type=_bandwidth, metavar="BYTES",
                        help="largest piece sent in one request (e.g. 4M; at least 1M); "
                             "smaller pieces lose less on a flaky link")
    parser.add_argument("--give-up-after", type=_seconds, default=DEFAULT_GIVE_UP_AFTER,
                        metavar="SECONDS",
                        help="stop when no file has made progress for this long while "
                             "waiting to retry (server down or not answering); the files "
                             "stay resumable, exit code 1 (default 300; 0 = never)")
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
    #: The built-in server of this run: links it made on an earlier port are moved here.
    local: ServerHandle | None = None


def _url(text: str, option: str) -> str:
    from urllib.parse import urlsplit

    from toolbox_uploader.cli import UsageError

    try:
        parts = urlsplit(text)
        hostname = parts.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        parts, hostname = None, None
    if parts is None or parts.scheme not in ("http", "https") or not hostname:
        raise UsageError(f"{option} needs an http(s) URL, not {text!r}")
    try:
        port = parts.port  # ValueError for a port out of range or not a number
    except ValueError:
        port = 0
    if port == 0:
        raise UsageError(f"{option} {text!r}: the port must be 1-65535")
    return text


def _stdin_name(name: str | None) -> str:
    """The name of an upload from standard input: a relative name inside the upload folder,
    as the validation rules want for files (no ``..``, not absolute, not empty)."""
    from toolbox_uploader.cli import UsageError
    from toolbox_uploader.core.validation.names import MAX_NAME_BYTES

    if name is None:
        return "stdin.bin"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # bytes of another character set, from the shell
        raise UsageError(f"--name '{shown(name)}' is not UTF-8 text") from None
    parts = [part.strip() for part in re.split(r"[/\\]", name)]
    if not name.strip() or parts[-1] in ("", "."):
        raise UsageError(f"--name needs a file name, not '{shown(name)}'")
    if ".." in parts or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise UsageError(f"--name '{shown(name)}' points outside the upload folder (names with "
                         "'..' or an absolute path are refused)")
    if shown(name) != name:
        raise UsageError(f"--name '{shown(name)}' contains control characters")
    if any(len(part.encode("utf-8")) > MAX_NAME_BYTES for part in parts):
        raise UsageError(f"--name: a name longer than {MAX_NAME_BYTES} bytes is refused")
    return name


def _check_token(token: str | None, source: str) -> None:
    """A token the HTTP client cannot send fails every file later with an odd error: say
    so now, before anything runs (never echoing the secret)."""
    from toolbox_uploader.cli import UsageError
    from toolbox_uploader.core.credentials import token_problem

    problem = None if token is None else token_problem(token)
    if problem is not None:
        raise UsageError(f"{source}: {problem}")


def _check_args(args: argparse.Namespace) -> tuple[list[Path], bool, str]:
    from toolbox_uploader.cli import UsageError
    from toolbox_uploader.core.categories import UnknownCategoryError, get_category

    category = "educational_content" if args.category is None else args.category
    try:
        get_category(category)
    except UnknownCategoryError as exc:
        raise UsageError(f"--category: {exc}") from None
    if args.max_chunk_size is not None and args.max_chunk_size < MIN_CHUNK_SIZE:
        raise UsageError(f"--max-chunk-size must be at least 1M ({MIN_CHUNK_SIZE} bytes), "
                         f"not {args.max_chunk_size}")
    if args.server:
        _url(args.server, "--server")
    if args.tus_endpoint:
        _url(args.tus_endpoint, "--tus-endpoint")
    stdin = "-" in args.paths
    if stdin and len(args.paths) > 1:
        raise UsageError("'-' (standard input) cannot be combined with other paths")
    if args.name is not None and not stdin:
        raise UsageError("--name is only for uploads from standard input ('-')")
    _check_token(args.token, "--token")
    if stdin:
        _stdin_name(args.name)
        if sys.stdin is None:  # ``upload - <&-``
            raise UsageError("standard input is closed: nothing to read for '-'")
    paths: list[Path] = []
    if not stdin:
        for text in args.paths:
            path = Path(text).expanduser()
            problem = path_problem(str(path))
            if problem is None and not path.exists():
                problem = _link_problem(path)  # a link to nothing: nothing to send
            if problem is not None:
                raise UsageError(f"{shown(text)}: {problem}")
            paths.append(_absolute(path))
    return paths, stdin, category


def _link_problem(path: Path) -> str:
    """Why the link ``path`` leads to no file: ``ls`` shows it, so "no such file" alone
    would puzzle (``ln -s a b; ln -s b a``)."""
    import errno

    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a link that leads back to itself in a loop"
    return "a link to a file or folder that does not exist"


def _absolute(path: Path) -> Path:
    """``path`` made absolute, with the folders above it resolved but not its last part:
    a link given by name is sent under that name (as the app sends a dropped link), not
    under the name of the file or folder it points to."""
    if path.name in ("", ".", ".."):
        return path.resolve()
    return path.parent.resolve() / path.name


def run(args: argparse.Namespace) -> int:
    paths, stdin, category = _check_args(args)
    embedded = None
    # With --json a script waits for a last ``summary`` line, after Ctrl+C too: until the
    # upload takes over printing it, this function prints it (a Ctrl+C while the local
    # server starts or the keyring is asked used to leave the script without one).
    summary_due = args.json
    try:
        from toolbox_uploader import paths as app_paths
        from toolbox_uploader.core import credentials

        if args.server or args.tus_endpoint:
            address = (args.server or args.tus_endpoint).rstrip("/")
            token = credentials.resolve_token(args.token, address)
            _check_token(token, "the token (from --token, $TOOLBOX_UPLOADER_TOKEN or the "
                                "keyring)")
            target = _Target(args.server, args.tus_endpoint, token, None)
        else:
            from toolbox_uploader.commands.validate import check_clamd_env, clamd_problem
            from toolbox_uploader.core.validation.scanner import SCANNER_ENV
            from toolbox_uploader.server.config import ServerConfig
            from toolbox_uploader.server.embedded import LOCAL_SERVER_KEY, EmbeddedServer

            # The local server scans with it: else every file is refused, one by one.
            problem = clamd_problem(check_clamd_env(), f"${SCANNER_ENV}")
            if problem is not None:
                summary_due = False
                return _not_started(f"{problem}. Nothing was sent: start clamd or correct "
                                    f"${SCANNER_ENV}, then run the same command again.",
                                    args.json)

            # The app's local server, on its last port: links it handed out stay valid.
            server = EmbeddedServer(
                ServerConfig(data_dir=app_paths.server_data_dir(), port=0),
                port_file=app_paths.local_server_port_path())
            try:
                handle = server.start()
            except (RuntimeError, TimeoutError, OSError) as exc:
                summary_due = False
                return _not_started(f"cannot start the local server: {exc}", args.json)
            embedded = server  # stopped at the end; one cut short in its start is left
            target = _Target(handle.url, None, args.token or handle.token, LOCAL_SERVER_KEY,
                             handle)
        out = closable_stdout()
        summary_due = False
        if stdin:
            import contextlib

            from toolbox_uploader.commands.stdin_upload import upload_stdin

            with contextlib.redirect_stdout(out):  # its summary line, reader or not
                code = upload_stdin(target.server_url, target.tus_endpoint, target.token,
                                    name=_stdin_name(args.name), category=category,
                                    as_json=args.json, bandwidth_limit=args.bandwidth_limit,
                                    max_chunk_size=args.max_chunk_size,
                                    give_up_after=args.give_up_after)
        else:
            code = _upload_paths(args, target, paths, category, out)
        out.flush()
        return code
    except KeyboardInterrupt:
        if summary_due:
            _print_interrupted(closable_stdout(), stdin)
        raise  # ``cli.main`` says "interrupted" and exits 130
    finally:
        if embedded is not None:
            embedded.stop()


def _print_interrupted(out: ClosableStdout, stdin: bool) -> None:
    """The ``summary`` of a run stopped before any upload began, shaped as the one its
    kind prints when stopped later (``upload -`` or files)."""
    if out.gone:
        return
    if stdin:
        summary: dict[str, Any] = {"event": "summary", "uploaded": 0,
                                   "exit_code": EXIT_INTERRUPTED, "interrupted": True}
    else:
        summary = {"event": "summary", "uploaded": 0, "already_uploaded": 0,
                   "exit_code": EXIT_INTERRUPTED, "problems": [], "gone": [],
                   "gave_up": False, "interrupted": True}
    print_json_line(summary, out)


def closable_stdout() -> ClosableStdout:
    """The command's standard output, made closable by its reader if ``cli.main`` has not
    done so already (tests call ``run`` directly)."""
    if isinstance(sys.stdout, ClosableStdout):
        return sys.stdout
    return ClosableStdout(sys.stdout)


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
                  category: str, out: ClosableStdout) -> int:
    # A Ctrl+C while the engine is loaded and starts or the view is set up: nothing of
    # PATHS is queued yet; the engine is stopped (the queue's lock freed) and a script
    # still gets its summary line.
    made_engine: Engine | None = None
    started_view: _JsonView | _TerminalView | None = None
    try:
        from toolbox_uploader.core.engine import (
            QUEUE_LOCKED,
            Engine,
            EngineBusyError,
            EngineConfig,
        )
        from toolbox_uploader.core.sqlite_db import StoreFailure
        from toolbox_uploader.core.states import ItemState

        engine = Engine(EngineConfig(
            server_url=target.server_url, tus_endpoint=target.tus_endpoint, token=target.token,
            server_key=target.server_key, concurrency=args.concurrency,
            optimize_images=not args.no_optimize, bandwidth_limit=args.bandwidth_limit,
            max_chunk_size=args.max_chunk_size,
            only_added=True,  # the PATHS given; other stored items: the app's, another run's
        ))
        made_engine = engine
        try:
            engine.start()
        except EngineBusyError as exc:
            return _not_started(str(exc), args.json, out)
        except StoreFailure as exc:  # a damaged queue file: ``cli`` says where it is
            if args.json:
                _print_not_started(str(exc), out)
            raise
        belongs = _belongs(paths)
        key = engine.server_key
        gone = _gone_before(engine.snapshot(), key, belongs, paths)

        def mine(source: str) -> bool:
            return belongs(source) and source not in gone

        view = _JsonView(mine, key, out) if args.json else _TerminalView(mine, key, out)
        started_view = view  # a terminal's progress display is on: put the cursor back
        local = target.local
        if local is None:
            engine.subscribe(view.on_events)
        else:
            from toolbox_uploader.server.embedded import current_links

            engine.subscribe(lambda batch: view.on_events(current_links(batch, local)))
        watchdog = _Watchdog(args.give_up_after, key, engine.snapshot())
        engine.subscribe(watchdog.on_events)
        from toolbox_uploader.core.events import DropFinished, QueueStatus

        queue_news: list[QueueStatus] = []  # appended on the engine thread, read after stop
        drops: list[DropFinished] = []  # the one add_paths of this run, once its walk is done
        engine.subscribe(lambda batch: queue_news.extend(
            e for e in batch if isinstance(e, QueueStatus)))
        engine.subscribe(lambda batch: drops.extend(
            e for e in batch if isinstance(e, DropFinished)))
        gave_up: str | None = None
        # Done in an earlier run and asked for again: "already on the server", not sent again.
        done_before = {s.id for s in engine.snapshot() if s.state is ItemState.DONE}
    except KeyboardInterrupt:
        if made_engine is not None:
            made_engine.stop()
        if started_view is not None:
            started_view.close()
        if args.json:
            _print_interrupted(out, stdin=False)
        raise
    said_own = False  # the app's own folders the walk passed over: said once it is done
    try:
        # --category given again: files already queued take it too (not the default).
        engine.add_paths(paths, category, recategorize=args.category is not None)
        while not engine.wait_idle(0.25):
            if drops and not said_own:
                said_own = _say_own_folders_skipped(drops[0])
            view.refresh()
            gave_up = watchdog.expired(engine.snapshot())
            if gave_up is not None:
                break
    except KeyboardInterrupt:
        engine.stop()
        view.close()
        if isinstance(view, _JsonView) and view.error is None:
            # A script reading the events still gets the last line the README promises.
            _summarise(*_outcome(engine.snapshot(), key, belongs, gone, local), True, out,
                       interrupted=True, earlier=done_before)
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    engine.stop()  # delivers the last coalesced batch, then ends; unfinished items stay
    if drops and not said_own:  # the drop's news came in that last batch
        said_own = _say_own_folders_skipped(drops[0])
    view.close()
    if isinstance(view, _JsonView) and view.error is not None:
        raise view.error  # printing failed (a full disk); the uploads went on and are saved
    # Taken after the stop: the summary tells what the queue now holds (an attempt a retry
    # began just before giving up is saved as ready, not as the failure before it).
    items, left = _outcome(engine.snapshot(), key, belongs, gone, local)
    if not items and queue_news and not queue_news[-1].saved:
        # The store refused the drop: nothing of PATHS was queued, let alone sent.
        why = ("another program holds it locked" if queue_news[-1].message == QUEUE_LOCKED
               else "is the disk full, or the file read-only?")
        return _not_started(f"nothing could be queued: the upload queue file "
                            f"{engine.config.store_path} cannot be written ({why})",
                            args.json, out)
    give_up_note = None
    if gave_up is not None:
        give_up_note = (f"no progress for {duration(args.give_up_after)} ({gave_up}); "
                        "run the same command again to carry on.")
    nothing = None
    if not items and drops:  # "0 of 0 files uploaded" alone does not say why
        from toolbox_uploader.core.drop_notice import drop_notice

        nothing = drop_notice(drops[-1], shown)
    code = _summarise(items, left, args.json, out, gave_up=give_up_note, nothing=nothing,
                      earlier=done_before)
    if give_up_note is not None:
        print(f"toolbox-uploader upload: {give_up_note}", file=sys.stderr)
    return code


def _say_own_folders_skipped(drop: DropFinished) -> bool:
    """One line on stderr when the walk of PATHS passed over the app's own folders: those
    under PATHS (``upload ..`` next to ``$TOOLBOX_UPLOADER_HOME``) and links into them deep
    inside, as ``validate`` says; the teacher should know why the queue, the settings and
    the local server's token are not among the files. Returns True: said once."""
    from toolbox_uploader.core.walk import own_folders_note

    note = own_folders_note(Path(folder) for folder in drop.own_folders)
    if note is not None:
        print(f"toolbox-uploader upload: {shown(note)}", file=sys.stderr)
    return True


def _not_started(message: str, as_json: bool, out: ClosableStdout | None = None) -> int:
    """Exit code 1 for a run that could not start its uploads, said on stderr and, with
    ``--json``, in the ``summary`` line a script waits for (it used to get no line)."""
    if as_json:
        _print_not_started(message, out or closable_stdout())
    print(f"toolbox-uploader upload: {message}", file=sys.stderr)
    return EXIT_FAILED


def _print_not_started(message: str, out: ClosableStdout) -> None:
    if out.gone:  # ``... --json | head -1``: nobody reads it any more
        return
    print_json_line({"event": "summary", "uploaded": 0, "exit_code": EXIT_FAILED,
                     "problems": [], "gone": [], "gave_up": False, "interrupted": False,
                     "message": message}, out)


def _outcome(snapshot: Iterable[ItemSnapshot], server_key: str, belongs: Callable[[str], bool],
             gone: set[str], local: ServerHandle | None,
             ) -> tuple[list[ItemSnapshot], list[ItemSnapshot]]:
    """This command's items as the stopped engine holds them, and the unfinished ones of
    files deleted before this run (``_gone_before``), for the summary."""
    from toolbox_uploader.core.states import ItemState

    stored = [s for s in snapshot if s.server == server_key and belongs(s.source_path)]
    if local is not None:
        from toolbox_uploader.server.embedded import current_link

        stored = [current_link(s, local) for s in stored]
    items = [s for s in stored if s.source_path not in gone]
    left = [s for s in _current(s for s in stored if s.source_path in gone)
            if s.state is not ItemState.DONE]
    return items, left


def _waiting_why(reason: Reason | None) -> str:
    """Why an item waits for a retry, without the "next try in N s" a stopped command
    will not make."""
    if reason is None:
        return "The server did not answer."
    if reason.code == "offline":
        return "The server cannot be reached."
    if reason.code == "transient":
        return "The server did not answer, or cut the connection."
    from toolbox_uploader.core.scheduler import without_countdown

    return without_countdown(reason.message)


class _Watchdog:
    """Tells when the command should stop waiting: none of the engine's items for this
    server (this command's files, and earlier unfinished ones it resumes, which the wait
    covers too) has moved for ``limit`` seconds while at least one waits for a retry.

    Moving means new bytes (beyond the most an item ever had, so bytes re-sent into a
    server that never answers do not count), a file prepared for the first time, or a
    file finished or refused. It is judged from the engine's live snapshot, never from
    its coalesced events: a batch keeps only an item's latest state, so a file's first
    ``ready`` is often hidden and would be taken for news at every later retry, putting
    the give-up off again and again. The engine's own retries are untouched: a server
    that comes back within the limit just carries on."""

    def __init__(self, limit: float, server_key: str, start: Iterable[ItemSnapshot]) -> None:
        """``start``: the engine's items before this run adds its own; where they already
        are (prepared, finished, bytes sent in an earlier run) is not progress."""
        self._limit = limit if limit > 0 else None
        self._key = server_key
        self._lock = threading.Lock()
        self._since = time.monotonic()
        self._most: dict[int, int] = {}
        self._prepared: set[int] = set()
        self._ended: dict[int, ItemState] = {}
        self._offline: str | None = None
        for snap in start:
            if snap.server == server_key:
                self._moved(snap)

    def on_events(self, batch: list[EngineEvent]) -> None:
        """Only the server's status, for the reason given (runs on the engine thread)."""
        from toolbox_uploader.core.events import ServerStatus

        with self._lock:
            for event in batch:
                if isinstance(event, ServerStatus):
                    self._offline = None if event.reachable else event.message

    def _moved(self, snap: ItemSnapshot) -> bool:
        """Note where ``snap`` is; True when that is further than it ever was."""
        from toolbox_uploader.core.states import FINISHED, ItemState

        moved = snap.bytes_sent > self._most.get(snap.id, 0)
        if moved:
            self._most[snap.id] = snap.bytes_sent
        sent = ItemState.READY, ItemState.UPLOADING, ItemState.VERIFYING, ItemState.DONE
        waiting = snap.state is ItemState.FAILED and snap.next_attempt_at is not None
        if snap.id not in self._prepared and (waiting or snap.state in sent):
            self._prepared.add(snap.id)  # a retry is only ever after a file was prepared
            moved = True
        ended = snap.state in FINISHED or (snap.state is ItemState.FAILED and not waiting)
        if ended and self._ended.get(snap.id) is not snap.state:
            self._ended[snap.id] = snap.state
            moved = True
        return moved

    def expired(self, current: Iterable[ItemSnapshot]) -> str | None:
        """The reason when it is time to give up, else None. ``current``: the engine's live
        snapshot, taken at least every quarter of a second by the command's loop."""
        from toolbox_uploader.core.states import ItemState

        mine = [s for s in current if s.server == self._key]
        now = time.monotonic()
        with self._lock:
            if [s for s in mine if self._moved(s)]:  # every item noted, not just the first
                self._since = now
            if self._limit is None or now - self._since < self._limit:
                return None
            if any(s.state in (ItemState.VALIDATING, ItemState.OPTIMIZING) for s in mine):
                return None  # still checking files here: that is not the server's fault
            waiting = [s for s in mine
                       if s.state is ItemState.FAILED and s.next_attempt_at is not None]
            if not waiting:
                return None
            return self._offline or _waiting_why(waiting[-1].reason)


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


def _newer(latest: dict[int, ItemSnapshot], newest: dict[str, int],
           snaps: Iterable[ItemSnapshot], *, added: bool, server_key: str,
           mine: Callable[[str], bool]) -> list[ItemSnapshot]:
    """Keep this command's snapshots in ``latest`` and return the ones that are news.

    An ``ItemsAdded`` snapshot is the item as it was when added; when the item has already
    moved on (a file found on the server is done at once) it is old news, not a step back.
    ``newest`` holds the newest item per file: an older one is an earlier version of a
    file edited since (the store keeps it as history), never news of this run."""
    ours = [s for s in snaps if s.server == server_key and mine(s.source_path)]
    for snap in ours:
        if snap.id > newest.get(snap.source_path, -1):
            newest[snap.source_path] = snap.id
    news = []
    for snap in ours:
        if snap.id < newest[snap.source_path] or (added and snap.id in latest):
            continue
        latest[snap.id] = snap
        news.append(snap)
    return news


def _summarise(items: list[ItemSnapshot], gone: Sequence[ItemSnapshot], as_json: bool,
               out: Any = None, *, gave_up: str | None = None, interrupted: bool = False,
               nothing: str | None = None, earlier: Collection[int] = ()) -> int:
    """Print the outcome, return the exit code. ``gone``: unfinished items of files deleted
    since an earlier run, mentioned but not failing this one. ``gave_up``: why the command
    stopped waiting for a server (``--give-up-after``), or None. ``interrupted``: Ctrl+C
    (JSON only; the plain output keeps its one "interrupted" line on stderr). ``nothing``:
    why PATHS held no file to upload (an empty folder, only hidden files), or None.
    ``earlier``: ids of items done before this run began; a rerun says they are already on
    the server, as for a file the server already had (it sends neither again)."""
    from toolbox_uploader.core.events import ALREADY_UPLOADED
    from toolbox_uploader.core.states import ItemState

    out = out if out is not None else sys.stdout
    items = _current(items)
    done = [s for s in items if s.state is ItemState.DONE]
    problems = [s for s in items if s.state is not ItemState.DONE]
    already = sum(1 for s in done if s.id in earlier
                  or (s.reason and s.reason.code == ALREADY_UPLOADED))
    code = EXIT_OK if not problems else EXIT_FAILED
    if interrupted:
        code = EXIT_INTERRUPTED
    if as_json:
        summary: dict[str, Any] = {
            "event": "summary", "uploaded": len(done), "already_uploaded": already,
            "exit_code": code,
            "problems": [_item_json(s) for s in problems],
            "gone": [_item_json(s) for s in gone],
            "gave_up": gave_up is not None, "interrupted": interrupted,
        }
        if gave_up is not None or nothing is not None:
            summary["message"] = gave_up if gave_up is not None else nothing
        print_json_line(summary, out)
        return code
    line = f"{len(done)} of {len(items)} {'file' if len(items) == 1 else 'files'} uploaded"
    if already:
        line += f" ({already} {'was' if already == 1 else 'were'} already on the server)"
    print(line, file=out)
    if nothing is not None:
        print(nothing, file=out)
    for snap in problems:
        why = snap.reason.message if snap.reason else "not sent yet"
        waiting = snap.state is ItemState.FAILED and snap.next_attempt_at is not None
        retrying = snap.state is ItemState.READY and snap.reason is not None  # just begun
        if gave_up is not None and (waiting or retrying):
            # Not the "next try in N s" of a retry this stopped command will not make.
            why = f"{_waiting_why(snap.reason)} Not finished; resumable."
        print(f"  {snap.state.value.upper():9} {shown(snap.relative_path)}: {shown(why)}",
              file=out)
    for snap in gone:
        print(f"  {'GONE':9} {shown(snap.relative_path)}: no longer there; not counted",
              file=out)
    out.flush()
    if any(s.reason and s.reason.code == "sign_in_needed" for s in problems):
        print(TOKEN_REFUSED, file=sys.stderr)
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

    def __init__(self, mine: Callable[[str], bool], server_key: str, out: ClosableStdout) -> None:
        self._mine = mine
        self._key = server_key
        self._out = out
        self._latest: dict[int, ItemSnapshot] = {}
        self._newest: dict[str, int] = {}
        #: Standard output failed (a full disk): raised again on the command's own thread,
        #: as one line, instead of a traceback from the engine's thread per batch.
        self.error: OSError | None = None

    def on_events(self, batch: list[EngineEvent]) -> None:
        from toolbox_uploader.core.events import (
            BatchProgress,
            ItemChanged,
            ItemsAdded,
            QueueStatus,
            ServerStatus,
        )

        lines = []
        for event in batch:
            if isinstance(event, ItemsAdded | ItemChanged):
                snaps = event.items if isinstance(event, ItemsAdded) else (event.item,)
                for snap in _newer(self._latest, self._newest, snaps,
                                   added=isinstance(event, ItemsAdded),
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
            elif isinstance(event, QueueStatus):
                lines.append({"event": "queue", "saved": event.saved, "message": event.message})
        if lines and not self._out.gone and self.error is None:
            # ``... --json | head``: the uploads go on, unprinted
            try:
                self._out.write("".join(json.dumps(line) + "\n" for line in lines))
                self._out.flush()
            except OSError as exc:
                self.error = exc

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass


class _TerminalView:
    """rich progress bars (one per active file plus a total); plain lines when piped."""

    def __init__(self, mine: Callable[[str], bool], server_key: str, out: ClosableStdout) -> None:
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
        self._console = Console(file=out)  # type: ignore[arg-type]
        self._utf8 = speaks_utf8(out)
        if not self._console.is_terminal:
            # A log or a pipe: one line per message, never cut at rich's 80 columns, so
            # ``grep NAME`` finds a whole line.
            self._console.soft_wrap = True
        self._lock = threading.Lock()
        self._latest: dict[int, ItemSnapshot] = {}
        self._newest: dict[str, int] = {}
        self._earlier: dict[int, ItemSnapshot] = {}  # finished before this run began
        self._changed: set[int] = set()
        self._batch: Any = None
        self._status: Any = None
        self._progress = Progress(
            TextColumn("{task.description}", justify="left", markup=False), BarColumn(),
            DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
            console=self._console, transient=False, disable=not self._console.is_terminal,
        )
        self._tasks: dict[int, Any] = {}
        self._total = self._progress.add_task("total", total=None)
        self._reported: set[int] = set()
        self._queue_problem: str | None = None
        self._waiting = _WaitingLine()
        self._progress.start()

    def on_events(self, batch: list[EngineEvent]) -> None:
        from toolbox_uploader.core.events import (
            BatchProgress,
            ItemChanged,
            ItemsAdded,
            QueueStatus,
            ServerStatus,
        )
        from toolbox_uploader.core.states import FINISHED

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
                elif isinstance(event, QueueStatus) and not event.saved:
                    self._queue_problem = event.message
                added = isinstance(event, ItemsAdded)
                for snap in _newer(self._latest, self._newest, snaps, added=added,
                                   server_key=self._key, mine=self._mine):
                    self._changed.add(snap.id)
                    if added and snap.state in FINISHED:
                        # Finished in an earlier run: said once at the end, if still the
                        # file's newest version (an edited file gets a new item now).
                        self._earlier[snap.id] = snap
                    else:
                        self._earlier.pop(snap.id, None)

    def refresh(self) -> None:
        from toolbox_uploader.core.states import FINISHED, ItemState

        with self._lock:
            changed = [self._latest[i] for i in self._changed]
            self._changed.clear()
            status, self._status = self._status, None
            queue_problem, self._queue_problem = self._queue_problem, None
            mine = list(self._latest.values())
            earlier = set(self._earlier)
        if status is not None and (not status.reachable or status.needs_sign_in):
            self._progress.console.print(shown(status.message), style="yellow", markup=False)
        elif status is not None:
            self._waiting.answered()
        if queue_problem is not None:
            self._progress.console.print(shown(queue_problem), style="yellow", markup=False)
        for snap in changed:
            task = self._tasks.get(snap.id)
            if snap.state is ItemState.UPLOADING:
                if task is None:
                    task = self._tasks[snap.id] = self._progress.add_task(
                        shown(snap.relative_path)[-40:], total=snap.upload_size)
                self._progress.update(task, completed=snap.bytes_sent, total=snap.upload_size)
            elif task is not None:
                self._progress.remove_task(task)
                del self._tasks[snap.id]
            if snap.state is ItemState.DONE:
                self._waiting.answered()
            waiting = snap.state is ItemState.FAILED and snap.next_attempt_at is not None
            if (snap.state in FINISHED or (snap.state is ItemState.FAILED and not waiting)) \
                    and snap.id not in earlier:
                self._report(snap)
        waiting_line = self._waiting.line(mine)
        if waiting_line is not None:
            self._progress.console.print(waiting_line, style="yellow", markup=False)
        totals = _totals(mine)
        self._progress.update(self._total, total=totals["bytes_total"] or None,
                              completed=totals["bytes_done"],
                              description=f"total {totals['files_done']}/"
                                          f"{totals['files_total']} files")

    def _report(self, snap: ItemSnapshot, *, earlier: bool = False) -> None:
        """One line for a finished or failed file; ``earlier``: done before this run."""
        from rich.text import Text

        from toolbox_uploader.core.events import ALREADY_UPLOADED
        from toolbox_uploader.core.states import ItemState

        if snap.id in self._reported and snap.state is not ItemState.FAILED:
            return
        if snap.removed_from_server:  # the old row of a file sent again: that one is said
            return
        self._reported.add(snap.id)
        name = shown(snap.relative_path)  # a name, never markup (``[draft] plan.txt``)
        sent, refused = ("✓", "✗") if self._utf8 else ("OK", "X")  # ``PYTHONIOENCODING=ascii``
        if snap.state is ItemState.DONE:
            note = " (already on the server)" if earlier or (
                snap.reason and snap.reason.code == ALREADY_UPLOADED) else ""
            line = Text.assemble((sent, "green"), f" {name}{note}")
        else:
            why = snap.reason.message if snap.reason else snap.state.value
            line = Text.assemble((refused, "red"), f" {name}: {shown(why)}")
        self._progress.console.print(line)

    def close(self) -> None:
        self.refresh()
        with self._lock:
            earlier = [s for s in self._earlier.values()
                       if self._newest.get(s.source_path) == s.id]
        for snap in sorted(earlier, key=lambda s: s.relative_path):
            self._report(snap, earlier=True)
        self._progress.stop()


class _WaitingLine:
    """One line for all the files waiting to retry, not one per file per retry (2,000 files
    on a server that was down wrote 11,700 lines in 30 s). Said when files start waiting
    or wait for another reason; the same wait again only after the server answered in
    between; at most once per ``WAITING_LINE_GAP``, for a cron log."""

    def __init__(self) -> None:
        self._said: str | None = None  # the reason code of the last line
        self._at = -math.inf

    def answered(self) -> None:
        """The server answered (reachable again, a file done): a new wait is news."""
        self._said = None

    def line(self, items: Iterable[ItemSnapshot]) -> str | None:
        """The line to print now for ``items``' waits, or None."""
        from collections import Counter

        from toolbox_uploader.core.states import ItemState

        waiting = [s for s in items
                   if s.state is ItemState.FAILED and s.next_attempt_at is not None]
        if not waiting:
            return None
        code = Counter(_code(s) for s in waiting).most_common(1)[0][0]
        now = time.monotonic()
        if code == self._said or now - self._at < WAITING_LINE_GAP:
            return None
        self._said, self._at = code, now
        return _waiting_text([s for s in waiting if _code(s) == code], len(waiting))


def _code(snap: ItemSnapshot) -> str:
    return snap.reason.code if snap.reason else ""


def _waiting_text(alike: list[ItemSnapshot], count: int) -> str:
    """``Waiting for network: 3 files, next try in 2 s.``: ``alike`` wait for one reason,
    ``count`` files wait in all; the soonest retry is the one that tells."""
    files = f"{count} file" + ("" if count == 1 else "s")
    soonest = min(s.next_attempt_at or 0.0 for s in alike)
    seconds = max(1, math.ceil(soonest - time.time()))
    if _code(alike[0]) == "offline":
        return f"Waiting for network: {files}, next try in {seconds} s."
    why = _waiting_why(alike[0].reason).rstrip(".")
    return f"{shown(why)}: {files} waiting, next try in {seconds} s."
