"""``toolbox-uploader upload -``: the command's side of one upload from standard input.

``core.stream_upload`` does the transfer; this module turns its outcome into the command's
output and exit code.
"""

from __future__ import annotations

import asyncio
import os
import select
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import Any, BinaryIO, cast

from toolbox_uploader.commands.closable_stdout import print_json_line
from toolbox_uploader.commands.shown import duration, shown
from toolbox_uploader.core.stream_upload import GAVE_UP, stream_upload
from toolbox_uploader.core.transfer_errors import ErrorKind, TransferError

#: After Ctrl+C, how long the upload may take to delete what it had sent (a pipe cannot be
#: resumed, so ``stream_upload`` deletes it, even when the answer that names the upload
#: is still on its way). A server that answers does that well within it; one that has
#: stopped answering never will, and the command must still end promptly (the partial
#: upload then expires there).
CLEAN_UP_GRACE = 1.5
#: Then how long its own ``finally`` may take (closing connections, the spool file).
_WIND_DOWN = 2.0
#: How often the reader of standard input looks whether Ctrl+C asked it to stop.
_READ_POLL = 0.1


def upload_stdin(server_url: str | None, endpoint: str | None, token: str | None, *,
                 name: str, category: str, as_json: bool, bandwidth_limit: int | None = None,
                 max_chunk_size: int | None = None, give_up_after: float | None = None) -> int:
    """0 when stored, 1 with the server's message otherwise; ``--bandwidth-limit``,
    ``--max-chunk-size`` and ``--give-up-after`` hold for a pipe as for files.

    Standard input is read unbuffered: Ctrl+C while the reader thread waits on a slow pipe
    would otherwise abort the interpreter at exit (a daemon thread inside a buffered read)."""
    if _is_terminal(sys.stdin):  # else the command seems to hang, waiting for typing
        end = "Ctrl+Z then Enter" if os.name == "nt" else "Ctrl+D"
        print(f"reading standard input; end with {end}", file=sys.stderr, flush=True)
    # Never closed here: after Ctrl+C the reader thread may still be inside a read of it.
    raw = open(sys.stdin.fileno(), "rb", buffering=0, closefd=False)  # noqa: SIM115
    source = _StoppableInput(raw)
    try:
        result = asyncio.run(_with_short_clean_up(stream_upload(
            cast(BinaryIO, source), server_url=server_url, endpoint=endpoint, token=token,
            name=name, category=category, bandwidth_limit=bandwidth_limit,
            max_chunk_size=max_chunk_size, give_up_after=give_up_after),
            on_interrupt=source.stop))
    except TransferError as error:
        return _failed(name, error, as_json, give_up_after)
    except KeyboardInterrupt:
        if as_json:  # the last line a script reads, after Ctrl+C too, as for files
            print_json_line({"event": "summary", "uploaded": 0, "exit_code": 130,
                             "interrupted": True})
        raise  # ``cli.main`` says "interrupted" and exits 130
    if as_json:
        print_json_line({"event": "summary", "uploaded": 1, "exit_code": 0,
                         "interrupted": False, **result})
    else:
        again = ("; the server lost the first upload, so it was sent again from the start"
                 if result.get("started_over") else "")
        print(f"{shown(name)}: {result['size']} bytes uploaded (sha256 {result['sha256']})"
              f"{again}")
    return 0


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # a closed or odd stream: not a person
        return False


class _StoppableInput:
    """Standard input for ``stream_upload``'s reader thread, which a Ctrl+C can end.

    ``stream_upload`` waits up to 1 s for that thread when it ends, and a thread blocked
    in ``read`` on a pipe whose writer is still there (``kill -INT`` of this process only,
    a recorder that keeps writing) wakes for nothing else. Stopped, it reads as the end
    of the input: only after the upload was cancelled, so no cut stream is taken whole."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()

    def read(self, size: int = -1) -> bytes:
        if os.name == "nt":  # ``select`` takes only sockets there
            return self._raw.read(size)
        while not self._stopped.is_set():
            ready, _, _ = select.select([self._raw], [], [], _READ_POLL)
            data = self._raw.read(size) if ready else None
            if data is not None:  # None: a non-blocking pipe had nothing after all
                return data
        return b""


async def _with_short_clean_up(upload: Coroutine[Any, Any, dict[str, object]], *,
                               on_interrupt: Callable[[], None]) -> dict[str, object]:
    """``upload``'s result; on Ctrl+C (``asyncio.run`` cancels this task) its clean-up gets
    ``CLEAN_UP_GRACE`` seconds before it is cancelled again, and ``on_interrupt`` stops
    the reading of standard input.

    ``stream_upload`` gives its clean-up up to 3 s and then waits 1 s for the thread
    reading standard input: against a server that accepts connections but never answers,
    Ctrl+C took 3-4 s to end the command."""
    task = asyncio.ensure_future(upload)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        task.cancel()  # its clean-up: delete the upload, drop the spool file
        on_interrupt()  # after the cancel: the reader's end is never taken as the stream's
        await asyncio.wait({task}, timeout=CLEAN_UP_GRACE)
        if not task.done():
            task.cancel()  # cuts the DELETE short; its ``finally`` blocks still run
            await asyncio.wait({task}, timeout=_WIND_DOWN)
        if task.done() and not task.cancelled():
            task.exception()  # seen here: no "exception was never retrieved" at exit
        raise


def _failed(name: str, error: TransferError, as_json: bool,
            give_up_after: float | None) -> int:
    message = error.message
    gave_up = error.code == GAVE_UP and bool(give_up_after)
    if gave_up:  # as for files, but a pipe cannot be sent again by a second run
        message = f"no progress for {duration(give_up_after or 0)} ({message})"
    if as_json:
        print_json_line({"event": "summary", "uploaded": 0, "exit_code": 1,
                         "interrupted": False, "gave_up": gave_up,
                         "error": {"code": error.code or error.kind.value,
                                   "message": message}})
    else:
        print(f"toolbox-uploader upload: {shown(name)}: {shown(message)}", file=sys.stderr)
        if error.kind is ErrorKind.AUTH:  # the server's words alone do not say what to do
            from toolbox_uploader.commands.upload import TOKEN_REFUSED

            print(TOKEN_REFUSED, file=sys.stderr)
    return 1
