"""An asyncio event loop on its own daemon thread: how the engine and the embedded server run.

``start`` runs a set-up coroutine on the new loop and returns once it finished (raising
its error if it failed); ``stop`` runs a shutdown coroutine on the loop, stops it and
joins the thread. Callers post work with ``loop.call_soon_threadsafe`` or
``asyncio.run_coroutine_threadsafe``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable

Step = Callable[[], Awaitable[None]]


class LoopThread:
    def __init__(self, name: str) -> None:
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self, startup: Step, timeout: float | None = None) -> None:
        if self._thread is not None:
            return
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(
            target=self._run, args=(startup,), name=self.name, daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"{self.name} did not start in time")
        if self._error is not None:
            error, self._error = self._error, None
            self._thread.join(5)
            self._thread = self.loop = None
            raise error

    def _run(self, startup: Step) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self.loop = loop
        try:
            loop.run_until_complete(startup())
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            try:
                _cancel_left_over(loop)
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    def stop(self, shutdown: Step | None = None, timeout: float = 15.0) -> None:
        """Run ``shutdown`` on the loop, then stop the loop and join the thread."""
        loop, thread = self.loop, self._thread
        if loop is None or thread is None:
            return

        async def finish() -> None:
            try:
                if shutdown is not None:
                    await shutdown()
            finally:
                asyncio.get_running_loop().stop()

        if loop.is_running():
            asyncio.run_coroutine_threadsafe(finish(), loop)
        thread.join(timeout)
        self._thread = self.loop = None


#: How long tasks still pending when the loop stops get to end once cancelled.
_LEFT_OVER_GRACE = 1.0


def _cancel_left_over(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what the shutdown step left running, as ``asyncio.run`` does: e.g. the
    handler of a connection the server was still closing. A task left pending is logged
    as "Task was destroyed but it is pending!" when it is collected."""
    tasks = asyncio.all_tasks(loop)
    if not tasks:
        return
    for task in tasks:
        task.cancel()
    loop.run_until_complete(asyncio.wait(tasks, timeout=_LEFT_OVER_GRACE))
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: no "exception was never retrieved" at exit
