"""Virus scanning: a small interface plus a ClamAV client that streams files to ``clamd``.

Off unless configured: a ``ClamdScanner`` is passed to ``validate_file`` explicitly, or built
from the ``TOOLBOX_UPLOADER_CLAMD`` setting (``unix:/run/clamav/clamd.ctl``, a bare socket
path, or ``tcp:host:port``). The INSTREAM command sends the file in length-prefixed chunks,
so nothing is held in memory and clamd needs no access to our files. We talk the protocol
directly (about 40 lines) rather than pulling in an unmaintained client library.
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from toolbox_uploader.core.source_files import open_source

SCANNER_ENV = "TOOLBOX_UPLOADER_CLAMD"
_CHUNK = 256 * 1024
#: How long the check before a run waits for clamd's PONG: a running clamd answers at once,
#: and a command must not hang on an address where something never answers.
PING_TIMEOUT = 5.0


class ScanError(Exception):
    """The scanner could not give an answer (not running, refused, protocol error)."""


class ScanTooLarge(ScanError):
    """clamd refused the stream as larger than its ``StreamMaxLength``."""


@dataclass(frozen=True, slots=True)
class ScanResult:
    infected: bool
    signature: str | None = None


@runtime_checkable
class Scanner(Protocol):
    name: str

    def scan(self, path: Path) -> ScanResult: ...


@dataclass(frozen=True, slots=True)
class ClamdScanner:
    """Talks to clamd over a unix socket (``socket_path``) or TCP (``host``/``port``).

    Frozen and made of plain values, so it pickles into worker processes."""

    socket_path: str | None = None
    host: str | None = None
    port: int = 3310
    timeout: float = 60.0
    name: str = "ClamAV"

    @classmethod
    def from_address(cls, address: str, *, timeout: float = 60.0) -> ClamdScanner:
        """``unix:/path``, a socket path, or ``tcp:host:port``; anything else is a
        ``ValueError`` said at once: ``ftp://x`` taken for a socket path used to refuse
        every file later with ``scan_failed``."""
        address = address.strip()
        scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]+)://", address)
        if scheme and scheme.group(1).lower() not in ("unix", "tcp"):
            raise ValueError(f"clamd address {address!r}: {scheme.group(1)}:// is not a way to "
                             "reach clamd; write unix:/path/to/socket or tcp:host:port")
        prefix = address[:4].lower()
        if address[:5].lower() == "unix:":
            if not address[5:].strip():
                raise ValueError(f"clamd address {address!r} names no socket; write "
                                 "unix:/path/to/socket")
            return cls(socket_path=address[5:], timeout=timeout)
        if prefix != "tcp:" and (address.startswith("/") or os.sep in address):
            return cls(socket_path=address, timeout=timeout)
        host_port = address[4:] if prefix == "tcp:" else address
        host_port = host_port.removeprefix("//").rstrip("/")
        host, _, port = host_port.rpartition(":")
        if host.startswith("[") and host.endswith("]"):  # tcp:[::1]:3310
            host = host[1:-1]
        if not host or not re.fullmatch(r"[0-9]{1,5}", port):  # ASCII digits only
            raise ValueError(
                f"clamd address {address!r} is neither unix:/path/to/socket nor tcp:host:port"
            )
        if not 0 < int(port) < 65536:
            raise ValueError(f"clamd address {address!r}: the port must be 1 to 65535")
        return cls(host=host, port=int(port), timeout=timeout)

    def _connect(self) -> socket.socket:
        try:
            if self.socket_path:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self.timeout)
                sock.connect(self.socket_path)
                return sock
            return socket.create_connection((self.host or "127.0.0.1", self.port), self.timeout)
        except OSError as exc:
            where = self.socket_path or f"{self.host}:{self.port}"
            raise ScanError(f"cannot reach the virus scanner at {where}: {exc}") from exc

    def ping(self) -> bool:
        with self._connect() as sock:
            try:
                sock.sendall(b"zPING\0")
            except OSError as exc:
                raise ScanError(f"virus scanner connection failed: {exc}") from exc
            return _read_reply(sock) == "PONG"

    def unreachable(self, timeout: float = PING_TIMEOUT) -> str | None:
        """Why clamd cannot scan right now, in words for a teacher, or None when it answers
        PING. Asked once before a run: a clamd that is not running (or an address with
        nothing behind it) used to refuse every file, one by one, with ``scan_failed``."""
        where = self.socket_path or f"{self.host}:{self.port}"
        probe = dataclasses.replace(self, timeout=min(timeout, self.timeout))
        try:
            if probe.ping():
                return None
        except ScanError as exc:
            cause = exc.__cause__
            if isinstance(cause, TimeoutError):
                detail = f"no answer within {probe.timeout:g} s"
            elif isinstance(cause, OSError) and cause.strerror:
                detail = cause.strerror.lower()
            else:
                detail = str(cause or exc)
            return f"the virus scanner (clamd) at {where} cannot be reached ({detail})"
        return f"what answers at {where} is not the virus scanner (clamd)"

    def scan(self, path: Path) -> ScanResult:
        with self._connect() as sock:
            try:
                sock.sendall(b"zINSTREAM\0")
                with open_source(path) as handle:
                    while chunk := handle.read(_CHUNK):
                        sock.sendall(struct.pack(">I", len(chunk)) + chunk)
                sock.sendall(struct.pack(">I", 0))
            except (BrokenPipeError, ConnectionResetError):
                pass  # clamd hung up early (size limit); its reply says why
            except OSError as exc:
                raise ScanError(f"virus scanner connection failed: {exc}") from exc
            reply = _read_reply(sock)
        return _parse_reply(reply)


def _read_reply(sock: socket.socket) -> str:
    data = bytearray()
    try:
        while not data.endswith(b"\0"):
            part = sock.recv(4096)
            if not part:
                break
            data += part
    except OSError as exc:
        raise ScanError(f"virus scanner did not answer: {exc}") from exc
    return data.rstrip(b"\0\n").decode("utf-8", "replace")


def _parse_reply(reply: str) -> ScanResult:
    body = reply.split(": ", 1)[1] if reply.startswith("stream: ") else reply
    if body == "OK":
        return ScanResult(False)
    if body.endswith(" FOUND"):
        return ScanResult(True, body.removesuffix(" FOUND"))
    if "size limit exceeded" in body:
        raise ScanTooLarge("the file is larger than the virus scanner accepts (StreamMaxLength)")
    raise ScanError(f"unexpected answer from the virus scanner: {reply!r}")


def scanner_from_env() -> ClamdScanner | None:
    """The scanner configured in the environment, or ``None`` (scanning off)."""
    address = os.environ.get(SCANNER_ENV, "").strip()
    return ClamdScanner.from_address(address) if address else None
