"""How a server runs and stops, shared by ``serve`` and the embedded starter: the runner's
settings (``make_runner``) and a clean stop.

``AppRunner.cleanup`` alone is not enough: it marks every connection closing and from
then on aiohttp discards incoming bytes, so an upload body in flight could never finish
and would just sit out the timeout. So: close the listening sockets, wait a grace
period for requests in progress, and only then clean up. Requests still running after
the grace period are cancelled; a tus PATCH then commits the offset of what is on disk.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from toolbox_uploader.server import keys
from toolbox_uploader.server.errors import Handler

#: How long a connection may take to send a whole request head, counted from when it
#: opened or got its last answer; then it is closed. aiohttp has no header timeout: its
#: keep-alive timer (an hour by default) is the one guard against a client that opens
#: connections and never finishes a request (slowloris). A body that is flowing is not
#: concerned (the timer only closes a connection that is waiting for a request); a body
#: that stops has the upload's own idle timeout.
IDLE_CONNECTION_SECONDS = 60.0


def make_runner(app: web.Application, **kwargs: object) -> web.AppRunner:
    """The ``AppRunner`` every way of serving ``app`` should use (``kwargs`` as aiohttp's).

    ``options["idle_connection_timeout"]`` of the config overrides the limit (tests)."""
    options = app[keys.CONFIG].options
    timeout = float(options.get("idle_connection_timeout", IDLE_CONNECTION_SECONDS))
    kwargs.setdefault("keepalive_timeout", timeout)
    # Bodies are never inflated: every body this server takes is an upload, refused when it
    # has a Content-Encoding (``content_coding``), and aiohttp would otherwise go on
    # inflating a refused one while it drains it (up to 10 s) to keep the connection.
    kwargs.setdefault("auto_decompress", False)
    return web.AppRunner(app, **kwargs)  # type: ignore[arg-type]


class InFlight:
    """Counts HTTP requests being handled, so shutdown can wait for them.

    WebSocket progress streams are not counted: they last as long as an upload and
    simply close when the server does.
    """

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/ws/"):
            return await handler(request)
        self.count += 1
        self._idle.clear()
        try:
            return await handler(request)
        finally:
            self.count -= 1
            if self.count == 0:
                self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """True when no request was running any more before ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True


def track_in_flight(app: web.Application) -> InFlight:
    """Install the counter as the outermost middleware of ``app`` (before it starts)."""
    in_flight = InFlight()
    app.middlewares.insert(0, in_flight.middleware)
    return in_flight


async def stop_accepting_and_drain(
    runner: web.AppRunner, in_flight: InFlight, grace: float
) -> bool:
    """Close the listening sockets, then wait up to ``grace`` s for running requests."""
    for site in list(runner.sites):
        await site.stop()
    return await in_flight.wait_idle(grace)
