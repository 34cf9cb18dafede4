"""Sign-in, sign-out and token look-ups for the window, each on a worker thread.

The keyring is a D-Bus round trip to the desktop's password store, and a locked store
waits for its unlock prompt: seconds, or as long as the teacher leaves the prompt open.
The window must not freeze meanwhile, so every keyring call of the app goes through one
``Accounts`` object, which answers by signals on the GUI thread. The app owns it, not the
settings dialog: a sign-in finishes and reaches the engine even when the teacher closes the
dialog straight after pressing Sign in.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Callable

from keyring.errors import KeyringError
from PySide6.QtCore import QObject, Signal

from toolbox_uploader.core import credentials

log = logging.getLogger(__name__)


def token_of(url: str) -> str | None:
    """The token for ``url`` (flag, environment, keyring), None when not signed in. A
    keyring backend that fails with something other than a ``KeyringError`` (a D-Bus error
    from the password store) counts as "not signed in" too: the app starts, the Settings
    dialog answers, and signing in says what is wrong."""
    try:
        return credentials.resolve_token(None, url)
    except Exception:
        log.exception("the keyring failed")
        return None


class Accounts(QObject):
    """Signals, all on the GUI thread:

    - ``signed_in(url)`` / ``signed_out(url)``: the keyring now holds (no longer holds) a token;
    - ``not_kept(url, action, error)``: the keyring refused; ``action`` is ``"kept"`` for a
      sign-in, ``"removed"`` for a sign-out, ``error`` the ``KeyringError``;
    - ``found(ticket, url, token)``: the answer to ``look_up`` (token None: not signed in).
    """

    signed_in = Signal(str)
    signed_out = Signal(str)
    not_kept = Signal(str, str, object)
    found = Signal(int, str, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # Worker threads emit only under this lock and while open: a signal emitted on an
        # object that the GUI thread is destroying corrupted the heap (a crash at exit).
        self._emitting = threading.Lock()
        self._closed = False
        if parent is not None:  # emitted before the parent deletes its children
            parent.destroyed.connect(self.close)
        self._tickets = itertools.count(1)
        # url -> the sign-ins ("kept") and sign-outs ("removed") on their way, oldest first
        self._busy: dict[str, list[str]] = {}
        self._changes: set[threading.Thread] = set()  # sign-ins and sign-outs running
        # Connected first, so the list is up to date before any other receiver runs.
        self.signed_in.connect(lambda url: self._settle(url, "kept"))
        self.signed_out.connect(lambda url: self._settle(url, "removed"))
        self.not_kept.connect(lambda url, action, _error: self._settle(url, action))

    def changing(self, url: str) -> str | None:
        """The latest change for ``url`` still on its way (``"kept"``: a sign-in,
        ``"removed"``: a sign-out), or None."""
        pending = self._busy.get(url)
        return pending[-1] if pending else None

    def sign_in(self, url: str, token: str) -> None:
        self._change(url, "kept", lambda: credentials.store_token(url, token))

    def sign_out(self, url: str) -> None:
        self._change(url, "removed", lambda: credentials.delete_token(url))

    def look_up(self, url: str) -> int:
        """Ask which token ``url`` has (flag, environment, keyring); ``found`` answers
        with the ticket returned here, so that a caller can ignore answers it no longer
        waits for."""
        ticket = next(self._tickets)
        self._start(lambda: self._answer(ticket, url, token_of(url)))
        return ticket

    def _change(self, url: str, action: str, call: Callable[[], None]) -> None:
        self._busy.setdefault(url, []).append(action)

        def work() -> None:
            try:
                call()
            except KeyringError as exc:
                self._emit("not_kept", url, action, exc)
                return
            except Exception as exc:  # a broken backend: said, never a dead thread
                log.exception("the keyring failed")
                self._emit("not_kept", url, action, KeyringError(str(exc)))
                return
            self._emit("signed_in" if action == "kept" else "signed_out", url)

        self._changes.add(self._start(work))

    def finish_changes(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for sign-ins and sign-outs still on their way
        (the app quits: a token the teacher just gave must not be lost with the process).
        True when none is left. Look-ups are not waited for: nobody needs their answer."""
        deadline = time.monotonic() + timeout
        for thread in list(self._changes):
            thread.join(max(0.0, deadline - time.monotonic()))
        self._changes = {t for t in self._changes if t.is_alive()}
        return not self._changes

    def close(self) -> None:
        """No signal from the worker threads after this returns (an answer still on its way
        is dropped): call it before this object is destroyed. Its owner's destruction
        calls it; an ``Accounts`` without a parent must be closed by whoever made it."""
        with self._emitting:
            self._closed = True

    def _settle(self, url: str, action: str) -> None:
        pending = self._busy.get(url, [])
        with contextlib.suppress(ValueError):
            pending.remove(action)
        if not pending:
            self._busy.pop(url, None)

    def _answer(self, ticket: int, url: str, token: str | None) -> None:
        self._emit("found", ticket, url, token)

    def _emit(self, signal: str, *args: object) -> None:
        """Worker thread: emit ``signal`` (its name: even looking a signal up on an object
        being destroyed is unsafe), unless this object is closed (going away)."""
        with self._emitting:
            if not self._closed:
                getattr(self, signal).emit(*args)

    @staticmethod
    def _start(work: Callable[[], None]) -> threading.Thread:
        thread = threading.Thread(target=work, name="toolbox-keyring", daemon=True)
        thread.start()
        return thread
