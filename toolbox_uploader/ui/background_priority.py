"""Give the threads the app starts (engine, local server) a lower CPU priority than the GUI.

Why: the engine and the embedded server run in this process, so while files upload they
compete with the GUI thread for the CPU as well as for the GIL. On two cores the GUI thread
then often waits for a time slice each time it takes the GIL back (issue 5: stalls of
70-80 ms instead of about 55 ms in ``bench/gui_responsiveness.py``). A higher nice value
for the background threads lets the scheduler run the GUI thread first; uploads lose nothing
on an otherwise idle machine. Linux only: there the nice value is per thread and threads
inherit it from the thread that starts them (the engine's validation pool, the server's
executors). Elsewhere this does nothing.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

BACKGROUND_NICENESS = 10  # added to the process's own nice value (19 at most)


def lower_priority(thread: threading.Thread, niceness: int = BACKGROUND_NICENESS) -> bool:
    """Raise ``thread``'s nice value by ``niceness`` over the process's; False if not done."""
    native_id = thread.native_id
    if sys.platform != "linux" or native_id is None or not thread.is_alive():
        return False
    try:
        target = min(19, os.getpriority(os.PRIO_PROCESS, os.getpid()) + niceness)
        if os.getpriority(os.PRIO_PROCESS, native_id) < target:
            os.setpriority(os.PRIO_PROCESS, native_id, target)
        return True
    except OSError as exc:  # the thread ended meanwhile, or a policy forbids it
        log.debug("could not lower the priority of %s: %s", thread.name, exc)
        return False


@contextmanager
def background_threads(niceness: int = BACKGROUND_NICENESS) -> Iterator[None]:
    """Threads started inside the ``with`` block get a lower priority when it ends."""
    before = {thread.ident for thread in threading.enumerate()}
    try:
        yield
    finally:
        for thread in threading.enumerate():
            if thread.ident not in before:
                lower_priority(thread, niceness)
