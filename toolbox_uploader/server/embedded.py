"""Run the server inside another program (the desktop app, the CLI, tests).

The server gets its own thread and its own asyncio loop (aiohttp ``AppRunner`` +
``TCPSite``; ``run_app`` would take over signals and the main thread).

With a ``port_file`` the server listens where it listened last time: links to its files
(``file_url`` of a finished upload) are absolute URLs kept in the queue, and a new random
port at each launch would make every one of them dead. When that port is taken, another is
used and remembered; ``ServerHandle.rebase`` turns an old link into one at the new address.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from toolbox_uploader.core.events import EngineEvent, ItemChanged, ItemsAdded, ItemSnapshot
from toolbox_uploader.core.loop_thread import LoopThread
from toolbox_uploader.server import keys
from toolbox_uploader.server.app import create_app
from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.lifecycle import (
    InFlight,
    make_runner,
    stop_accepting_and_drain,
    track_in_flight,
)

log = logging.getLogger(__name__)

#: How long a stop waits for requests in progress (an upload body still arriving).
GRACE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class ServerHandle:
    url: str
    token: str
    port: int

    def rebase(self, link: str) -> str:
        """``link`` (made by this server at any earlier address) at the current address."""
        parts, own = urlsplit(link), urlsplit(self.url)
        if not parts.scheme or not parts.netloc or parts.netloc == own.netloc:
            return link
        return parts._replace(scheme=own.scheme, netloc=own.netloc).geturl()


#: The queue's name for the built-in server, whatever port it listens on in this run.
LOCAL_SERVER_KEY = "local"


def current_link(snap: ItemSnapshot, handle: ServerHandle) -> ItemSnapshot:
    """``snap`` with its link moved to where the local server listens now.

    A finished item keeps the absolute link it got when it was uploaded; when the port the
    local server had then is taken by the next run, the server moves and the old link
    would lead nowhere."""
    url = snap.file_url
    if snap.server != LOCAL_SERVER_KEY or not url or url.startswith(handle.url + "/"):
        return snap
    return replace(snap, file_url=handle.rebase(url))


def current_links(events: list[EngineEvent], handle: ServerHandle) -> list[EngineEvent]:
    """``events`` with the local server's links as ``current_link`` gives them."""
    out: list[EngineEvent] = []
    for event in events:
        if isinstance(event, ItemsAdded):
            items = tuple(current_link(s, handle) for s in event.items)
            if any(new is not old for new, old in zip(items, event.items, strict=True)):
                event = ItemsAdded(items)
        elif isinstance(event, ItemChanged) and (
                item := current_link(event.item, handle)) is not event.item:
            event = ItemChanged(item)
        out.append(event)
    return out


def read_port(port_file: Path) -> int | None:
    """The port remembered in ``port_file``, or None (missing, damaged, out of range)."""
    try:
        port = json.loads(port_file.read_text(encoding="utf-8")).get("port")
    except (OSError, ValueError, AttributeError):
        return None
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        return None
    return port


def _remember_port(port_file: Path, port: int) -> None:
    """Written atomically; a failure only costs stable links, so it is logged, not raised."""
    try:
        port_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = port_file.with_name(f"{port_file.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"port": port}) + "\n", encoding="utf-8")
        os.replace(tmp, port_file)
    except OSError as exc:
        log.warning("cannot remember the local server's port in %s: %s", port_file, exc)


class EmbeddedServer:
    def __init__(self, config: ServerConfig, *, port_file: Path | None = None) -> None:
        """``port_file``: with ``config.port == 0``, try the port saved there first, and save
        the port actually used."""
        self.config = config
        self._port_file = port_file if config.port == 0 else None
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
        self._runner = make_runner(app, handle_signals=False, shutdown_timeout=5.0)
        await self._runner.setup()
        await self._listen(self._runner)
        port = self._runner.addresses[0][1]
        host = self.config.host
        shown = f"[{host}]" if ":" in host else host
        self.handle = ServerHandle(f"http://{shown}:{port}", app[keys.DEFAULT_TOKEN], port)
        if self._port_file is not None and read_port(self._port_file) != port:
            _remember_port(self._port_file, port)

    async def _listen(self, runner: web.AppRunner) -> None:
        """Listen on the configured port; for port 0 try the remembered one first."""
        host = self.config.host
        wanted = read_port(self._port_file) if self._port_file is not None else None
        if wanted is not None:
            site = web.TCPSite(runner, host, wanted)
            try:
                await site.start()
                return
            except OSError as exc:  # taken by another program meanwhile: any free port
                log.info("port %s is not free (%s); the local server moves", wanted, exc)
                with contextlib.suppress(RuntimeError):
                    await site.stop()
        await web.TCPSite(runner, host, self.config.port).start()

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
