"""Run the server inside another program (the desktop app, the CLI, tests).

The server gets its own thread and its own asyncio loop (aiohttp ``AppRunner`` +
``TCPSite``; ``run_app`` would take over signals and the main thread).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from toolbox_uploader.core.loop_thread import LoopThread
from toolbox_uploader.server import keys
from toolbox_uploader.server.app import create_app
from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.lifecycle import InFlight, stop_accepting_and_drain, track_in_flight

#: How long a stop waits for requests in progress (an upload body still arriving).
GRACE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class ServerHandle:
    url: str
    token: str
    port: int


class EmbeddedServer:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self._thread = LoopThread("toolbox-server")
        self._runner: web.AppRunner | None = None
        self._in_flight: InFlight | None = None
        self.handle: ServerHandle | None = None

    def start(self, timeout: float = 30.0) -> ServerHandle:
        if self.handle is None:
            try:
                self._thread.start(self._start, timeout)
            except Exception as exc:
                raise RuntimeError(f"the embedded server failed to start: {exc}") from exc
        assert self.handle is not None
        return self.handle

    async def _start(self) -> None:
        app = create_app(self.config)
        self._in_flight = track_in_flight(app)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=5.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        port = self._runner.addresses[0][1]
        host = self.config.host
        shown = f"[{host}]" if ":" in host else host
        self.handle = ServerHandle(f"http://{shown}:{port}", app[keys.DEFAULT_TOKEN], port)

    async def _cleanup(self) -> None:
        if self._runner is not None:
            if self._in_flight is not None:
                await stop_accepting_and_drain(self._runner, self._in_flight, GRACE_SECONDS)
            await self._runner.cleanup()

    def stop(self, timeout: float = GRACE_SECONDS + 10.0) -> None:
        self._thread.stop(self._cleanup, timeout)
        self.handle = None

    def __enter__(self) -> ServerHandle:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
