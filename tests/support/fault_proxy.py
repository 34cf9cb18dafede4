"""A fault-injecting HTTP/1.1 proxy on loopback, for tests of recovery paths.

It forwards TCP bytes between a client and one target, but understands just enough of
HTTP/1.1 (request head + ``Content-Length`` body) to pick a fault *per request*: on a share
of requests it resets the connection mid-body, stalls for a while, truncates the request
body or the response, or flips one body byte. Decisions come from a seeded RNG so a failing
run can be replayed. Faults are bounded by ``max_faults`` and ``stall_seconds``.

    async with FaultProxy("127.0.0.1", port, reset=0.1, stall=0.05, truncate=0.1, seed=1) as p:
        ... use p.url ...

    with ThreadedFaultProxy("127.0.0.1", port, reset=0.2) as p:   # from synchronous tests
        ... use p.url ...
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

HEAD_LIMIT = 64 * 1024
PIPE_PIECE = 256 * 1024


class Fault(StrEnum):
    RESET = "reset"
    STALL = "stall"
    TRUNCATE_REQUEST = "truncate_request"
    TRUNCATE_RESPONSE = "truncate_response"
    LATE_RESPONSE = "late_response"
    CORRUPT = "corrupt"


@dataclass
class FaultStats:
    connections: int = 0
    requests: int = 0
    resets: int = 0
    stalls: int = 0
    truncated_requests: int = 0
    truncated_responses: int = 0
    late_responses: int = 0
    corrupted: int = 0
    body_bytes: int = 0  # request body bytes forwarded to the target
    methods: list[str] = field(default_factory=list)  # of each request, in order

    @property
    def faults(self) -> int:
        return (
            self.resets + self.stalls + self.truncated_requests + self.truncated_responses
            + self.late_responses + self.corrupted
        )


class _Cut(Exception):
    """This connection is being cut on purpose."""


def _abort_with_rst(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _content_length(head: bytes) -> tuple[str, int | None]:
    """(method, Content-Length) of a request head; length None for chunked bodies."""
    lines = head.split(b"\r\n")
    method = lines[0].split(b" ", 1)[0].decode("latin-1").upper()
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                return method, None
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            return method, None
    return method, length


class FaultProxy:
    """Shares are per request and exclusive (their sum must be ≤ 1):

    - ``reset``: the connection is reset (RST) at a random point of the request body;
    - ``stall``: forwarding pauses ``stall_seconds`` at a random point, then goes on;
    - ``truncate``: a request with a body is cut mid-body (FIN); one without a body has
      its response cut after a few bytes instead;
    - ``lose_answer``: the request goes through whole, its response is cut after a few
      bytes (the server did the work; the client cannot know);
    - ``late_answer``: the request goes through whole, its response is held ``stall_seconds``
      (the server did the work; the client is still waiting to learn of it);
    - ``corrupt``: one body byte is flipped on its way (a 460 on checksum servers).

    ``rate`` (bytes per second) paces every request body, as a slow link would, so that a
    client is still sending when it is told to stop; it is read in pieces of 1/16 s.
    ``window`` (bytes) is the receive buffer of the proxy's client side: how much a real
    link holds in flight (on loopback the kernel would otherwise take megabytes at once).
    ``methods`` limits faults to those HTTP methods (e.g. ``{"PATCH"}``); ``max_faults``
    caps their total; ``enabled = False`` lets everything through (e.g. for a final check).
    """

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        reset: float = 0.0,
        stall: float = 0.0,
        truncate: float = 0.0,
        corrupt: float = 0.0,
        lose_answer: float = 0.0,
        late_answer: float = 0.0,
        stall_seconds: float = 0.5,
        rate: float | None = None,
        window: int | None = None,
        seed: int = 0,
        max_faults: int | None = None,
        methods: Iterable[str] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        if reset + stall + truncate + corrupt + lose_answer + late_answer > 1.0:
            raise ValueError("the fault shares add up to more than 1")
        self.target_host = target_host
        self.target_port = target_port
        self.shares = {
            Fault.RESET: reset, Fault.STALL: stall, Fault.TRUNCATE_REQUEST: truncate,
            Fault.CORRUPT: corrupt, Fault.TRUNCATE_RESPONSE: lose_answer,
            Fault.LATE_RESPONSE: late_answer,
        }
        self.stall_seconds = min(stall_seconds, 10.0)
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self._piece = PIPE_PIECE if rate is None else max(4096, min(PIPE_PIECE, int(rate / 16)))
        self._window = window
        self.max_faults = max_faults
        self.methods = frozenset(m.upper() for m in methods) if methods else None
        self.enabled = True
        self.stats = FaultStats()
        self._rng = random.Random(seed)
        self._host = host
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    async def start(self) -> FaultProxy:
        if self._window is None:
            self._server = await asyncio.start_server(self._serve, self._host, 0)
        else:  # set before listening: accepted sockets inherit it, and the window scale
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self._window)
            listener.bind((self._host, 0))
            listener.listen()
            listener.setblocking(False)
            self._server = await asyncio.start_server(self._serve, sock=listener)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _choose(self, method: str) -> Fault | None:
        roll = self._rng.random()  # always drawn, so the sequence replays whatever the flags
        if not self.enabled or (self.methods is not None and method not in self.methods):
            return None
        if self.max_faults is not None and self.stats.faults >= self.max_faults:
            return None
        edge = 0.0
        for fault, share in self.shares.items():
            edge += share
            if roll < edge:
                return fault
        return None

    def _count(self, fault: Fault) -> None:
        attribute = {
            Fault.RESET: "resets", Fault.STALL: "stalls",
            Fault.TRUNCATE_REQUEST: "truncated_requests",
            Fault.TRUNCATE_RESPONSE: "truncated_responses",
            Fault.LATE_RESPONSE: "late_responses", Fault.CORRUPT: "corrupted",
        }[fault]
        setattr(self.stats, attribute, getattr(self.stats, attribute) + 1)

    async def _serve(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.stats.connections += 1
        upstream_writer: asyncio.StreamWriter | None = None
        halves: list[asyncio.Future[None]] = []
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                self.target_host, self.target_port
            )
            # What to do to the next responses, in order: cut after so many bytes, or hold.
            answers: list[tuple[Fault, int]] = []
            requests = asyncio.ensure_future(
                self._requests(client_reader, upstream_writer, client_writer, answers)
            )
            responses = asyncio.ensure_future(
                self._responses(upstream_reader, client_writer, answers)
            )
            halves = [requests, responses]
            done, pending = await asyncio.wait(
                {requests, responses}, return_when=asyncio.FIRST_COMPLETED
            )
            if requests in done and requests.exception() is None:
                # The client finished sending; let the last response through.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(responses, timeout=30)
            for other in pending:
                other.cancel()
            await asyncio.gather(requests, responses, return_exceptions=True)
        except (OSError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # The proxy is closing: end this connection quietly, a held request included.
            for half in halves:
                half.cancel()
            await asyncio.gather(*halves, return_exceptions=True)
        finally:
            for writer in (client_writer, upstream_writer):
                if writer is not None and not writer.transport.is_closing():
                    writer.close()
            self._tasks.discard(task)

    async def _requests(
        self,
        reader: asyncio.StreamReader,
        upstream: asyncio.StreamWriter,
        client: asyncio.StreamWriter,
        answers: list[tuple[Fault, int]],
    ) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                upstream.close()
                return
            except asyncio.LimitOverrunError:
                head = await reader.read(HEAD_LIMIT)
            self.stats.requests += 1
            method, length = _content_length(head)
            self.stats.methods.append(method)
            if length is None:  # chunked: pass the rest of the connection through untouched
                upstream.write(head)
                while data := await reader.read(PIPE_PIECE):
                    upstream.write(data)
                    await upstream.drain()
                upstream.close()
                return
            fault = self._choose(method)
            if fault is Fault.TRUNCATE_REQUEST and length == 0:
                fault = Fault.TRUNCATE_RESPONSE
            if fault is Fault.CORRUPT and length == 0:
                fault = None
            if fault is not None:
                self._count(fault)
            at = self._rng.randrange(length) if length else 0
            if fault is Fault.TRUNCATE_RESPONSE:
                answers.append((fault, self._rng.randint(1, 48)))
            elif fault is Fault.LATE_RESPONSE:
                answers.append((fault, 0))
            if fault is Fault.STALL and length == 0:  # nothing to hold back but the request
                await asyncio.sleep(self.stall_seconds)
                fault = None
            upstream.write(head)
            await self._forward_body(reader, upstream, client, length, fault, at)

    async def _forward_body(
        self,
        reader: asyncio.StreamReader,
        upstream: asyncio.StreamWriter,
        client: asyncio.StreamWriter,
        length: int,
        fault: Fault | None,
        at: int,
    ) -> None:
        position = 0
        acted = fault in (None, Fault.TRUNCATE_RESPONSE, Fault.LATE_RESPONSE)
        while position < length or not acted:
            if not acted and position >= at:
                acted = True
                if fault is Fault.RESET:
                    await upstream.drain()
                    _abort_with_rst(client)
                    _abort_with_rst(upstream)
                    raise _Cut()
                if fault is Fault.TRUNCATE_REQUEST:
                    await upstream.drain()
                    upstream.close()
                    client.close()
                    raise _Cut()
                if fault is Fault.STALL:
                    await asyncio.sleep(self.stall_seconds)
                continue
            want = min(self._piece, length - position)
            if not acted:
                want = min(want, at - position + 1)
            data = await reader.read(want)
            if not data:
                raise asyncio.IncompleteReadError(b"", length - position)
            if fault is Fault.CORRUPT and position <= at < position + len(data):
                index = at - position
                data = data[:index] + bytes([data[index] ^ 0xFF]) + data[index + 1:]
            position += len(data)
            self.stats.body_bytes += len(data)
            upstream.write(data)
            await upstream.drain()
            if self.rate is not None:
                await asyncio.sleep(len(data) / self.rate)

    async def _responses(
        self,
        reader: asyncio.StreamReader,
        client: asyncio.StreamWriter,
        answers: list[tuple[Fault, int]],
    ) -> None:
        while data := await reader.read(PIPE_PIECE):
            fault, keep = answers.pop(0) if answers else (None, 0)
            if fault is Fault.LATE_RESPONSE:
                await asyncio.sleep(self.stall_seconds)
            elif fault is Fault.TRUNCATE_RESPONSE:
                client.write(data[:keep])
                await client.drain()
                client.close()
                raise _Cut()
            client.write(data)
            await client.drain()
        client.close()


class ThreadedFaultProxy:
    """A FaultProxy on its own thread and loop, for tests that are not async."""

    def __init__(self, target_host: str, target_port: int, **options: object) -> None:
        self._args = (target_host, target_port)
        self._options = options
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fault-proxy", daemon=True
        )
        self.proxy: FaultProxy | None = None

    @property
    def url(self) -> str:
        assert self.proxy is not None
        return self.proxy.url

    @property
    def stats(self) -> FaultStats:
        assert self.proxy is not None
        return self.proxy.stats

    def set_enabled(self, enabled: bool) -> None:
        assert self.proxy is not None
        self._loop.call_soon_threadsafe(setattr, self.proxy, "enabled", enabled)

    def start(self) -> ThreadedFaultProxy:
        self._thread.start()
        proxy = FaultProxy(*self._args, **self._options)  # type: ignore[arg-type]
        asyncio.run_coroutine_threadsafe(proxy.start(), self._loop).result(timeout=10)
        self.proxy = proxy
        return self

    def stop(self) -> None:
        if self.proxy is not None:
            asyncio.run_coroutine_threadsafe(self.proxy.close(), self._loop).result(timeout=30)
            self.proxy = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> ThreadedFaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def black_hole_first_patch(port: int) -> Iterator[ThreadedFaultProxy]:
    """A proxy to ``port`` whose first PATCH stops being read part-way and is never
    answered (for a minute, far past a client's 30 s timeout): a link that died while a
    laptop slept. Everything else, new connections included, passes."""
    with ThreadedFaultProxy("127.0.0.1", port, stall=1.0, methods={"PATCH"}, max_faults=1,
                            window=64 * 1024, seed=3) as proxy:
        assert proxy.proxy is not None
        proxy.proxy.stall_seconds = 60.0  # the constructor caps it at 10 s
        yield proxy
