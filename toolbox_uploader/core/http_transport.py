"""httpx's requests and responses on aiohttp's HTTP/1.1 connections: the engine's HTTP.

The tus client and the toolbox API speak httpx (typed errors, streamed request bodies).
httpx's own transport, httpcore, parses HTTP/1.1 in pure Python on anyio streams: about
1.3 ms of CPU per request here, a quarter of the client's whole cost for a 100 KB file
(`bench/many_files.py`). aiohttp, already a dependency for the server, parses in C; with it
under httpx the same requests cost about 0.3 ms.

Why not the ``httpx-aiohttp`` package: it reports every aiohttp connection error, a reset in
the middle of a body included, as ``httpx.ConnectTimeout``, and the engine's retry rules read
that as "the server cannot be reached". The mapping here keeps the difference between never
connecting, a timeout, and a connection cut while sending or receiving, and lets an
exception raised by the caller's own body (a pause, a shrinking file) through unchanged, as
httpcore does. aiohttp has no write timeout, so one is kept here: a body piece that the
socket has not taken within ``write`` seconds ends the request with ``httpx.WriteTimeout``.

A ``SendMeter`` given with a request learns the connection that carries it, so the caller
can tell bytes that left the machine from bytes still in its buffers (see ``SendMeter``).

After a laptop sleeps, its connections to a remote server are often dead without a word (the
NAT or the Wi-Fi forgot them; no reset ever comes), and a request on one would wait out its
whole read or write timeout. ``AiohttpTransport.woke`` (the engine calls it when the wall
clock jumps ahead of the loop's) keeps the pooled connections from being used again and gives
each request in flight a few seconds to show that its connection still carries bytes; one
that does not ends with ``httpx.ReadTimeout``, which the callers retry on a new connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import socket
import struct
import sys
import urllib.request
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import httpx
import yarl
from aiohttp.connector import Connection
from multidict import CIMultiDict

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
EAGER_BYTES = 64 * 1024  # answers up to this size are read before they are handed over
SEND_METER = "toolbox.send_meter"  # request extension: a ``SendMeter`` for the request's body

if sys.platform == "linux":
    import fcntl
    import termios

    def _unacknowledged(sock: socket.socket) -> int:
        """Bytes in the kernel's send queue the peer has not acknowledged (SIOCOUTQ)."""
        answer = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
        return int(struct.unpack("i", answer)[0])
elif sys.platform == "darwin":
    _SO_NWRITE = 0x1024  # <sys/socket.h>: bytes not yet acknowledged

    def _unacknowledged(sock: socket.socket) -> int:
        return int(sock.getsockopt(socket.SOL_SOCKET, _SO_NWRITE))
else:
    def _unacknowledged(sock: socket.socket) -> int:
        return 0  # not known here: progress then counts bytes handed to the socket


class SendMeter:
    """How many bytes handed to a request's connection have not yet reached the peer.

    A body piece "sent" is only in this machine's buffers: asyncio's write buffer and the
    kernel's send queue, which grows to a few MiB. On a slow link that is seconds of
    sending, so progress counted at hand-over would run ahead and then sit at 100 % until
    the answer. ``waiting()`` is what those buffers still hold (the kernel's part where the
    system tells it: Linux, macOS), read while the request is in flight.
    """

    __slots__ = ("_socket", "_transport")

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._socket: socket.socket | None = None

    def attach(self, transport: asyncio.Transport | None) -> None:
        self._transport = transport
        self._socket = transport.get_extra_info("socket") if transport is not None else None

    def detach(self) -> None:
        """The request is over: the connection (and its descriptor) may go elsewhere."""
        self._transport = self._socket = None

    def waiting(self) -> int:
        return _held(self._transport, self._socket)


def _held(transport: asyncio.Transport | None, sock: socket.socket | None) -> int:
    """Bytes handed to a connection that the peer has not acknowledged yet."""
    if transport is None or transport.is_closing():
        return 0
    held = transport.get_write_buffer_size()
    if sock is not None:
        with contextlib.suppress(OSError, ValueError):
            held += _unacknowledged(sock)
    return held


class _Flight:
    """One request between its start and its answer's head: what ``woke`` watches."""

    __slots__ = ("abandoned", "body", "session", "socket", "task", "transport")

    def __init__(self, session: aiohttp.ClientSession, body: _WatchedBody | None) -> None:
        self.session = session
        self.body = body
        self.task = asyncio.current_task()
        self.transport: asyncio.Transport | None = None
        self.socket: socket.socket | None = None
        self.abandoned = False

    def attach(self, transport: asyncio.Transport | None) -> None:
        self.transport = transport
        self.socket = transport.get_extra_info("socket") if transport is not None else None

    def mark(self) -> tuple[int, int]:
        """Changes while the connection carries bytes: (which connection, bytes the peer
        took). A body piece taken by a dead connection's buffers is not progress."""
        handed = self.body.handed if self.body is not None else 0
        return id(self.transport), handed - _held(self.transport, self.socket)


_METER: contextvars.ContextVar[SendMeter | None] = contextvars.ContextVar(
    "toolbox_send_meter", default=None)
_FLIGHT: contextvars.ContextVar[_Flight | None] = contextvars.ContextVar(
    "toolbox_flight", default=None)


class _MeteredRequest(aiohttp.ClientRequest):
    """aiohttp's request, telling the request's ``SendMeter`` (and its ``_Flight``) which
    connection carries it."""

    async def send(self, conn: Connection) -> aiohttp.ClientResponse:
        meter = _METER.get()
        if meter is not None:
            meter.attach(conn.transport)  # type: ignore[arg-type]
        flight = _FLIGHT.get()
        if flight is not None:
            flight.attach(conn.transport)  # type: ignore[arg-type]
        return await super().send(conn)


def new_http_client(timeout: httpx.Timeout = DEFAULT_TIMEOUT, *,
                    max_connections: int = 32) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` on this transport (the REST calls of a standalone API)."""
    return httpx.AsyncClient(timeout=timeout,
                             transport=AiohttpTransport(max_connections=max_connections))


class HttpSession:
    """One server's connection pool: httpx requests and responses, aiohttp on the wire.

    The tus client sends through ``send``, straight to the transport: httpx's client
    layer (URL merging, cookie jar, auth and redirect hooks) cost about as much CPU as the
    request itself, and tus needs none of it (a bearer header, no redirects, no
    cookies). ``rest_client()`` is an ``httpx.AsyncClient`` on the same connections for
    the REST calls that use httpx's conveniences (query parameters, multipart bodies).
    """

    def __init__(self, timeout: httpx.Timeout = DEFAULT_TIMEOUT, *,
                 max_connections: int = 32) -> None:
        self.timeout = timeout
        self.transport = AiohttpTransport(max_connections=max_connections)
        self._extensions = {"timeout": timeout.as_dict()}

    def build_request(self, method: str, url: str | httpx.URL, *, headers: Mapping[str, str],
                      content: bytes | AsyncIterator[bytes] = b"",
                      meter: SendMeter | None = None) -> httpx.Request:
        extensions = self._extensions if meter is None else {**self._extensions,
                                                             SEND_METER: meter}
        return httpx.Request(method, _httpx_url(url) if isinstance(url, str) else url,
                             headers=headers, content=content, extensions=extensions)

    async def send(self, request: httpx.Request) -> httpx.Response:
        """The response, its (small) body read; transport failures raise httpx errors."""
        response = await self.transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    async def request(self, method: str, url: str, *,
                      headers: Mapping[str, str]) -> httpx.Response:
        return await self.send(self.build_request(method, url, headers=headers))

    def rest_client(self) -> httpx.AsyncClient:
        """An httpx client sharing these connections (closing the session closes them)."""
        return httpx.AsyncClient(timeout=self.timeout, transport=self.transport)

    async def aclose(self) -> None:
        await self.transport.aclose()

    def woke(self, grace: float) -> None:
        """The computer woke up: see ``AiohttpTransport.woke``."""
        self.transport.woke(grace)

    async def __aenter__(self) -> HttpSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends httpx requests through one aiohttp session, created on first use in its loop."""

    def __init__(self, *, max_connections: int = 32, keepalive_expiry: float = 5.0) -> None:
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}
        self._flights: set[_Flight] = set()  # requests waiting for their answer's head
        #: Sessions from before a wake-up, closed once their requests in flight have ended.
        self._retired: set[aiohttp.ClientSession] = set()
        self._closing: set[asyncio.Task[None]] = set()

    def woke(self, grace: float) -> None:
        """The computer woke from sleep (the engine saw the wall clock jump): connections
        made before may be dead without a word, and a request on one would wait out its
        full timeout. New requests get new connections, the old pooled ones are closed,
        and a request in flight whose connection carries nothing within ``grace`` seconds
        is ended with ``httpx.ReadTimeout`` (a retry, on a new connection). One that moves
        goes on: its connection survived the sleep."""
        session = self._session
        if session is None or session.closed:
            return
        self._session = None
        self._retired.add(session)
        loop = asyncio.get_running_loop()
        for flight in [f for f in self._flights if f.session is session]:
            loop.call_later(grace, self._check_after_wake, flight, flight.mark())
        self._close_if_unused(session)

    def _check_after_wake(self, flight: _Flight, before: tuple[int, int]) -> None:
        if flight not in self._flights or flight.abandoned:
            return  # answered or failed meanwhile
        now = flight.mark()
        if now[0] != before[0] or now[1] > before[1]:
            return  # a new connection, or bytes acknowledged: it is alive
        task = flight.task
        if task is None or task.done() or task.cancelling():
            return
        flight.abandoned = True
        task.cancel()

    def _close_if_unused(self, session: aiohttp.ClientSession) -> None:
        if session not in self._retired or any(f.session is session for f in self._flights):
            return
        self._retired.discard(session)
        task = asyncio.get_running_loop().create_task(session.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _session_here(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            # httpx's TLS settings (certifi's CAs, SSL_CERT_FILE/SSL_CERT_DIR), as before:
            # the system store is missing on some Python builds for macOS.
            connector = aiohttp.TCPConnector(limit=self._max_connections,
                                             keepalive_timeout=self._keepalive_expiry,
                                             ssl=httpx.create_ssl_context())
            self._session = aiohttp.ClientSession(  # httpx keeps the cookies, not aiohttp
                connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar(),
                request_class=_MeteredRequest)
            self._loop = loop
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session_here()
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        headers = CIMultiDict(  # names as the caller spelled them, not lower-cased
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in request.headers.raw)
        headers.popall("Transfer-Encoding", None)  # aiohttp frames the body itself
        body: _WatchedBody | None = None
        data: Any = None
        try:
            data = request.content or None
        except httpx.RequestNotRead:
            body = _WatchedBody(request.stream, timeouts.get("write"))
            data = body
        meter: SendMeter | None = request.extensions.get(SEND_METER)
        metering = _METER.set(meter) if meter is not None else None
        flight = _Flight(session, body)
        self._flights.add(flight)
        flying = _FLIGHT.set(flight)
        try:
            response = await session.request(
                request.method, _yarl_url(str(request.url)), headers=headers, data=data,
                allow_redirects=False, compress=False, proxy=self._proxy(request.url),
                # No bound on waiting for a free connection: aiohttp would report it as a
                # connect timeout ("server unreachable"); every busy connection has its
                # own read and write timeouts, so the wait ends.
                timeout=aiohttp.ClientTimeout(total=None, connect=None,
                                              sock_connect=timeouts.get("connect"),
                                              sock_read=timeouts.get("read")),
            )
        except asyncio.CancelledError:
            if body is not None:
                body.done()
                await body.settle()  # the caller (a pause) may close its body right after
            task = asyncio.current_task()
            ours = flight.abandoned or (body is not None and body.stalled)
            if not ours or task is None or task.uncancel() > 0:
                raise  # not our watchdog, or somebody else cancelled the task too
            if flight.abandoned:
                raise httpx.ReadTimeout("The connection carried nothing after the computer "
                                        "woke up.", request=request) from None
            raise httpx.WriteTimeout("The server stopped taking the request body.",
                                     request=request) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            if body is not None:
                body.done()
                await body.settle()
                if body.error is not None:
                    raise body.error from None  # the caller's own body failed: its exception
            raise _translate(exc, request) from exc
        finally:
            if body is not None:
                body.done()
            if meter is not None and metering is not None:
                meter.detach()
                _METER.reset(metering)
            _FLIGHT.reset(flying)
            self._flights.discard(flight)
            if flight.session in self._retired:
                self._close_if_unused(flight.session)
        extensions = {"http_version": b"HTTP/1.1",
                      "reason_phrase": (response.reason or "").encode("latin-1", "replace")}
        stream = _ResponseStream(response, request, body)
        length = response.content_length
        if length is None or length > EAGER_BYTES:
            return httpx.Response(status_code=response.status, headers=response.raw_headers,
                                  stream=stream, request=request, extensions=extensions)
        # A short answer (every tus reply, most REST ones) is read here at once: the
        # connection goes back to the pool now, and httpx's reads find it done.
        try:
            content = await response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _translate(exc, request) from exc
        finally:
            await stream.aclose()
        return httpx.Response(status_code=response.status, headers=response.raw_headers,
                              content=content, request=request, extensions=extensions)

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
        for session in list(self._retired):
            await session.close()
        self._retired.clear()
        if self._closing:
            await asyncio.wait(list(self._closing), timeout=5)

    def _proxy(self, url: httpx.URL) -> str | None:
        """The proxy from the environment (``HTTPS_PROXY``, ``NO_PROXY``...), as httpx uses.

        Looked up once per host: aiohttp's ``trust_env`` reads the environment (and
        ``.netrc``) on every request, which cost 0.7 ms per request here."""
        key = (url.scheme, url.host)
        if key not in self._proxies:
            proxies = urllib.request.getproxies()
            proxy = proxies.get(url.scheme) or proxies.get("all")
            if proxy and "://" not in proxy:
                proxy = "http://" + proxy  # httpx reads "host:3128" as an HTTP proxy
            if proxy and (not proxy.startswith(("http://", "https://"))
                          or urllib.request.proxy_bypass(url.host)):
                proxy = None  # SOCKS is not spoken here (httpx needed an extra for it)
            self._proxies[key] = proxy
        return self._proxies[key]


@functools.lru_cache(maxsize=64)
def _httpx_url(url: str) -> httpx.URL:
    """Parsed once: the tus endpoint and an upload's URL recur, and httpx parses in Python."""
    return httpx.URL(url)


@functools.lru_cache(maxsize=64)
def _yarl_url(url: str) -> yarl.URL:
    return yarl.URL(url, encoded=True)  # httpx has already percent-encoded it


class _WatchedBody:
    """The request body as aiohttp reads it, with a write timeout and the body's own error.

    aiohttp asks for the next piece only once the previous one is written and drained, so a
    piece still unasked-for after ``timeout`` seconds means the peer stopped reading; the
    request task is then cancelled (and the cancellation turned into ``WriteTimeout``).
    aiohttp iterates the body in a task of its own, which it cancels when the request ends
    early; ``settle`` waits for that, so the caller may close its generator afterwards
    (closing an async generator that another task is still inside is an error).
    """

    def __init__(self, stream: httpx.AsyncByteStream | Any, timeout: float | None) -> None:
        self._stream = stream
        self._timeout = timeout
        self._task = asyncio.current_task()
        self._timer: asyncio.TimerHandle | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self.error: BaseException | None = None
        self.stalled = False
        self.handed = 0  # bytes given to aiohttp's writer

    async def __aiter__(self) -> AsyncIterator[bytes]:
        pieces = self._stream.__aiter__()
        try:
            while True:
                self._idle.clear()
                try:
                    piece = await pieces.__anext__()
                except StopAsyncIteration:
                    return
                except Exception as exc:  # from the caller's body, not from the connection
                    self.error = exc
                    raise
                finally:
                    self._idle.set()
                self._arm()
                self.handed += len(piece)
                yield piece
                self._disarm()
        finally:
            self._disarm()

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait (bounded) until aiohttp's writer is no longer inside the caller's body."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)

    def _arm(self) -> None:
        if self._timeout is not None and self._task is not None:
            self._timer = asyncio.get_running_loop().call_later(self._timeout, self._stall)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _stall(self) -> None:
        self._timer = None
        if self._task is not None and not self._task.done() and not self._task.cancelling():
            self.stalled = True
            self._task.cancel()

    def done(self) -> None:
        """The request has its answer (or failed): a late timer must not cancel anything."""
        self._disarm()
        self._task = None


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request,
                 body: _WatchedBody | None) -> None:
        self._response = response
        self._request = request
        self._body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _translate(exc, self._request) from exc

    async def aclose(self) -> None:
        # Back to the pool when read to the end, else closed. A server that answered
        # before the whole body went out (a refusal) also stops the body's writer here.
        self._response.release()
        if self._body is not None:
            await self._body.settle()


def _translate(exc: BaseException, request: httpx.Request) -> httpx.TransportError:
    """The httpx error that httpcore would have raised for the same failure."""
    message = str(exc) or type(exc).__name__
    kind: type[httpx.TransportError]
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        kind = httpx.ConnectTimeout
    elif isinstance(exc, aiohttp.ServerTimeoutError | asyncio.TimeoutError):
        kind = httpx.ReadTimeout
    elif isinstance(exc, aiohttp.ClientConnectorError):
        kind = httpx.ConnectError
    elif isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientResponseError):
        kind = httpx.RemoteProtocolError
    elif isinstance(exc, aiohttp.InvalidURL):
        kind = httpx.UnsupportedProtocol
    elif isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError):
        kind = httpx.ReadError  # reset, broken pipe, a body cut short
    else:
        kind = httpx.TransportError
    return kind(message, request=request)
