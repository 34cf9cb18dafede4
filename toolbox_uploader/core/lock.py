"""One engine per session store: an OS file lock next to the database.

Two engines writing the same queue would each resume the other's uploads. The lock is
held by the open file descriptor, so the OS drops it when the process dies (even by
``kill -9``) and a stale lock can never block the next run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO


class EngineBusyError(RuntimeError):
    """Another engine (the desktop app or an ``upload`` command) is using this queue."""


class StoreLock:
    def __init__(self, store_path: Path) -> None:
        # Next to the real file: a queue reached through a symlink and by its own name is
        # one queue, and must have one lock.
        self.path = Path(str(Path(store_path).resolve()) + ".lock")
        self._handle: IO[bytes] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+b")  # noqa: SIM115 - kept open while the lock is held
        try:
            if sys.platform == "win32":
                import msvcrt

                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.close()
            raise EngineBusyError(
                "Another ToolBox Uploader (the app or an upload command) is using the upload "
                f"queue {self.path.with_suffix('')}; close it first."
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()).encode())
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing drops the lock
            self._handle = None

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
