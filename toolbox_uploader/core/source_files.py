"""Opening the teacher's files for reading without ever hanging on what is not a file.

A path checked as a regular file can be replaced (a rename) by a named pipe or a device
before it is opened, and a plain ``open()`` of a pipe waits for a writer for ever: a check,
a hash or an upload would hang in its worker. Opening with ``O_NONBLOCK`` returns at once,
and ``fstat`` on the open descriptor says what was really opened. Python's ``open()`` has no
way to pass the flag, hence this module.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
          | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))


class NotRegularFileError(OSError):
    """The path is (now) a folder, pipe, socket or device."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(errno.EINVAL, "not a regular file", str(path))


def open_fd(path: str | os.PathLike[str]) -> int:
    """A blocking descriptor on the regular file at ``path``; ``NotRegularFileError`` if it
    is anything else (or another ``OSError``, as ``open`` would raise)."""
    fd = os.open(path, _FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFileError(path)
        if _FLAGS & getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_source(path: str | os.PathLike[str] | Path, buffering: int = -1) -> BinaryIO:
    """``open(path, "rb", buffering)`` for a teacher's file, as ``open_fd`` checks it."""
    return os.fdopen(open_fd(path), "rb", buffering=buffering)
