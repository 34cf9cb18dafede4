"""Standard output that its reader may close (``toolbox-uploader ... | head -1``).

A script that reads only what it needs must not turn a good run into a failure, for any
command. ``cli.main`` installs one ``ClosableStdout`` around every command: once the reader
is gone nothing more is printed, the command finishes its work and its exit code stays the
one that work deserves.
"""

from __future__ import annotations

import io
import os
import sys
import threading
from typing import Any, TextIO


class ClosableStdout:
    """Writes to ``stream`` until its reader goes away, then quietly to nowhere.

    The descriptor is pointed at the null device when that happens, so neither a later
    write (rich, ``print``) nor Python's own flush at exit fails again. ``stream`` is None
    when the command started with standard output closed (``... >&-``): gone from the
    start."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self.gone = stream is None

    def write(self, text: str) -> int:
        with self._lock:
            if not self.gone:
                try:
                    self._stream.write(text)
                except BrokenPipeError:
                    self._lost()
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if not self.gone:
                try:
                    self._stream.flush()
                except BrokenPipeError:
                    self._lost()

    def reader_gone(self) -> bool:
        """Whether standard output's reader has gone away: seen by a write that failed, or
        by the pipe itself (a ``BrokenPipeError`` elsewhere is a different failure)."""
        if self.gone:
            return True
        try:
            import select

            poller = select.poll()
            poller.register(self._stream.fileno(), select.POLLOUT)
            return any(events & select.POLLERR for _fd, events in poller.poll(0))
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            return False  # no poll (Windows) or no descriptor: only a failed write tells

    def _lost(self) -> None:
        self.gone = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, self._stream.fileno())
            finally:
                os.close(devnull)
        except (OSError, ValueError, io.UnsupportedOperation):
            pass  # not a real descriptor (a test's capture): nothing is written anyway

    def isatty(self) -> bool:
        try:
            return self._stream is not None and not self.gone and self._stream.isatty()
        except (ValueError, OSError):
            return False

    def fileno(self) -> int:
        if self._stream is None:
            raise io.UnsupportedOperation("standard output is closed")
        return self._stream.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:
        return getattr(self._stream, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:
        return getattr(self._stream, "errors", None)


def print_json_line(data: object, out: Any = None, *, ensure_ascii: bool = True,
                    flush: bool = True) -> None:
    """``data`` as one JSON line on ``out`` (standard output by default), written in one
    piece: ``print`` writes the newline separately, and a Ctrl+C or SIGTERM between the
    two left the last line without one, which ``while read`` loops and many JSON-lines
    readers drop."""
    import json

    stream = sys.stdout if out is None else out
    stream.write(json.dumps(data, ensure_ascii=ensure_ascii) + "\n")
    if flush:
        stream.flush()
