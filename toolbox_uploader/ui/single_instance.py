"""One window per user and app home: a second launch hands its paths to the first.

The running app listens on a ``QLocalServer`` (a Unix socket / Windows named pipe) whose name
is derived from the user and the config folder, so a test's ``TOOLBOX_UPLOADER_HOME`` gets
its own name. A new launch first tries to connect; if someone answers, it sends one JSON line
``{"paths": [...], "category": ...}``, waits for ``ok`` and exits.
"""

from __future__ import annotations

import getpass
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from toolbox_uploader import paths

_TIMEOUT_MS = 2000
_MAX_MESSAGE = 1 << 20


def instance_name() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "user"
    where = str(paths.config_dir())
    digest = hashlib.sha256(f"{user}\0{where}".encode()).hexdigest()[:16]
    return f"toolbox-uploader-{digest}"


def hand_over(paths_: Sequence[Path], category: str | None = None, *,
              name: str | None = None) -> bool:
    """Give ``paths_`` to a running instance; ``True`` when one took them (the caller exits)."""
    socket = QLocalSocket()
    socket.connectToServer(name or instance_name())
    if not socket.waitForConnected(_TIMEOUT_MS):
        return False
    message = {"paths": [str(Path(p).absolute()) for p in paths_], "category": category}
    socket.write(json.dumps(message).encode() + b"\n")
    socket.flush()
    ok = socket.waitForBytesWritten(_TIMEOUT_MS) or socket.bytesToWrite() == 0
    answered = ok and socket.waitForReadyRead(_TIMEOUT_MS)
    reply = bytes(socket.readAll().data()) if answered else b""
    socket.disconnectFromServer()
    return reply.startswith(b"ok")


class InstanceServer(QObject):
    """Listens for later launches. Signals: ``paths_received(list[Path], object category)``."""

    paths_received = Signal(list, object)

    def __init__(self, name: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name or instance_name()
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._on_connection)
        self._buffers: dict[QLocalSocket, bytes] = {}

    def listen(self) -> bool:
        if self._server.listen(self.name):
            return True
        # A crashed instance leaves its socket file behind; nobody answered on it.
        QLocalServer.removeServer(self.name)
        return self._server.listen(self.name)

    def close(self) -> None:
        self._server.close()

    def _on_connection(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            self._buffers[socket] = b""
            socket.readyRead.connect(lambda s=socket: self._on_ready(s))
            socket.disconnected.connect(lambda s=socket: self._forget(s))

    def _forget(self, socket: QLocalSocket) -> None:
        self._buffers.pop(socket, None)
        socket.deleteLater()

    def _on_ready(self, socket: QLocalSocket) -> None:
        data = self._buffers.get(socket, b"") + bytes(socket.readAll().data())
        if b"\n" not in data:
            if len(data) > _MAX_MESSAGE:
                socket.abort()
            else:
                self._buffers[socket] = data
            return
        line = data.split(b"\n", 1)[0]
        self._buffers[socket] = b""
        try:
            message = json.loads(line)
            received = [Path(p) for p in message.get("paths", []) if isinstance(p, str)]
            category = message.get("category")
            category = category if isinstance(category, str) else None
        except (ValueError, AttributeError):
            socket.write(b"error\n")
            socket.flush()
            return
        socket.write(b"ok\n")
        socket.flush()
        self.paths_received.emit(received, category)
