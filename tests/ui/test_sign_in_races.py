"""Sign-in and sign-out racing the teacher: a Settings dialog reopened while a sign-in is on
its way, an address edited meanwhile, Enter in the token field, a keyring that breaks, a
sign-in that ends during a server switch. Real dialogs, app, server and keyring calls; the
keyring backends below stand for a desktop password store that is slow or broken."""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from toolbox_uploader.core import credentials
from toolbox_uploader.server.embedded import ServerHandle
from toolbox_uploader.settings import Settings
from toolbox_uploader.ui.accounts import Accounts
from toolbox_uploader.ui.settings_dialog import SettingsDialog

URL = "https://files.school.example"
OTHER = "https://files.other-school.example"
WAIT_MS = 5000


class SlowWrites(KeyringBackend):
    """Answers look-ups at once; a sign-in or sign-out waits until ``go`` is set (at most
    10 s), as a password store does while it asks the teacher to confirm a change."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}
        self.go = threading.Event()

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.go.wait(10)
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.go.wait(10)
        self.passwords.pop((service, username), None)


class BrokenStore(KeyringBackend):
    """A password store whose D-Bus connection broke: not a ``KeyringError``."""

    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        raise ConnectionResetError("the secret service went away")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise ConnectionResetError("the secret service went away")

    def delete_password(self, service: str, username: str) -> None:
        raise ConnectionResetError("the secret service went away")


def _use(backend: KeyringBackend) -> Iterator[KeyringBackend]:
    before = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        go = getattr(backend, "go", None)
        if go is not None:
            go.set()  # no worker thread left waiting
        keyring.set_keyring(before)


@pytest.fixture
def slow_writes() -> Iterator[SlowWrites]:
    yield from _use(SlowWrites())  # type: ignore[misc]


@pytest.fixture
def broken_store() -> Iterator[KeyringBackend]:
    yield from _use(BrokenStore())


@pytest.fixture
def accounts() -> Iterator[Accounts]:
    """Closed at the end: a look-up answering after the test must not reach a freed object."""
    made = Accounts()
    yield made
    made.close()


def _dialog(qtbot: QtBot, accounts: Accounts, url: str = URL) -> SettingsDialog:
    dialog = SettingsDialog(Settings(server_url=url), accounts=accounts)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _wait_status(qtbot: QtBot, dialog: SettingsDialog, text: str) -> None:
    qtbot.waitUntil(lambda: dialog.account_status.text() == text, timeout=WAIT_MS)


def test_a_dialog_reopened_during_a_sign_in_follows_it(
        qtbot: QtBot, slow_writes: SlowWrites, accounts: Accounts) -> None:
    """Sign in, close, open Settings again before the keyring has kept the token: the new
    dialog says "Signing in…" (not "Not signed in." with Sign in pressable again) and then
    "Signed in.", never a stale answer."""
    first = _dialog(qtbot, accounts)
    _wait_status(qtbot, first, "Not signed in.")
    first.token.setText("class-7b-token")
    first.sign_in_button.click()
    first.reject()

    again = _dialog(qtbot, accounts)
    qtbot.wait(200)  # a look-up would have answered by now
    assert again.account_status.text() == "Signing in…"
    assert not again.sign_in_button.isEnabled() and not again.sign_out_button.isEnabled()
    slow_writes.go.set()
    _wait_status(qtbot, again, "Signed in.")
    assert again.sign_out_button.isEnabled()
    assert slow_writes.passwords == {(credentials.SERVICE, URL): "class-7b-token"}


def test_a_sign_out_seen_from_another_dialog(qtbot: QtBot, slow_writes: SlowWrites,
                                             accounts: Accounts) -> None:
    slow_writes.passwords[(credentials.SERVICE, URL)] = "class-7b-token"
    first = _dialog(qtbot, accounts)
    _wait_status(qtbot, first, "Signed in.")
    first.sign_out_button.click()
    first.reject()
    again = _dialog(qtbot, accounts)
    assert again.account_status.text() == "Signing out…"
    slow_writes.go.set()
    _wait_status(qtbot, again, "Not signed in.")
    assert not again.sign_out_button.isEnabled()


def test_a_token_typed_for_another_address_meanwhile_is_kept(
        qtbot: QtBot, slow_writes: SlowWrites, accounts: Accounts) -> None:
    """The teacher signs in to one server, then edits the address and pastes the token for
    another: the end of the first sign-in must not wipe the second token."""
    dialog = _dialog(qtbot, accounts)
    _wait_status(qtbot, dialog, "Not signed in.")
    dialog.token.setText("first-school-token")
    dialog.sign_in_button.click()
    dialog.server_url.setText(OTHER)
    dialog.server_url.editingFinished.emit()
    _wait_status(qtbot, dialog, "Not signed in.")
    dialog.token.setText("other-school-token")
    with qtbot.waitSignal(dialog.signed_in, timeout=WAIT_MS):
        slow_writes.go.set()
    assert dialog.token.text() == "other-school-token"
    assert dialog.account_status.text() == "Not signed in."  # about OTHER, still true


def test_enter_in_the_token_field_signs_in(qtbot: QtBot, accounts: Accounts) -> None:
    """Enter after pasting the token used to press OK: the dialog closed and the token was
    dropped, the teacher none the wiser."""
    dialog = _dialog(qtbot, accounts)
    qtbot.waitExposed(dialog)
    _wait_status(qtbot, dialog, "Not signed in.")
    dialog.token.setFocus()
    qtbot.keyClicks(dialog.token, "class-7b-token")
    with qtbot.waitSignal(dialog.signed_in, timeout=WAIT_MS):
        qtbot.keyClick(dialog.token, Qt.Key.Key_Return)
    assert dialog.isVisible() and dialog.result() == 0
    assert keyring.get_password(credentials.SERVICE, URL) == "class-7b-token"
    _wait_status(qtbot, dialog, "Signed in.")
    # With the token field empty, Enter is OK as before.
    dialog.token.setFocus()
    qtbot.keyClick(dialog.token, Qt.Key.Key_Return)
    assert not dialog.isVisible() and dialog.result() == dialog.DialogCode.Accepted


def test_a_broken_keyring_answers_not_signed_in(
        qtbot: QtBot, broken_store: KeyringBackend, accounts: Accounts) -> None:
    """Not "Checking the sign-in…" for ever, and no dead worker thread."""
    dialog = _dialog(qtbot, accounts)
    _wait_status(qtbot, dialog, "Not signed in.")
    dialog.token.setText("class-7b-token")
    dialog.sign_in_button.click()
    qtbot.waitUntil(lambda: "password store" in dialog.error.text(), timeout=WAIT_MS)
    assert dialog.sign_in_button.isEnabled()


def test_the_app_starts_with_a_broken_keyring(
        qtbot: QtBot, start_app: Any, live_server: ServerHandle,
        broken_store: KeyringBackend) -> None:
    app = start_app(Settings(server_url=live_server.url))
    assert app.window.isVisible() and app.target.token is None
    assert "not signed in" in app.window.server_label.text()


@pytest.fixture
def no_keyring() -> Iterator[KeyringBackend]:
    yield from _use(fail.Keyring())


def test_a_refused_sign_in_after_the_dialog_closed_is_said(
        qtbot: QtBot, start_app: Any, live_server: ServerHandle,
        no_keyring: KeyringBackend) -> None:
    app = start_app(Settings(server_url=live_server.url))
    dialog = app.open_settings()
    dialog.token.setText(live_server.token)
    dialog.sign_in_button.click()
    dialog.reject()
    bar = app.window.statusBar()
    qtbot.waitUntil(lambda: "password store" in bar.currentMessage(), timeout=WAIT_MS)
    assert live_server.url in bar.currentMessage()


def _hold_a_request(handle_url: str, token: str) -> socket.socket:
    """Another client's upload whose body stalls half-way: stopping the server waits for
    it (up to the server's grace period)."""
    headers = {"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {token}"}
    created = httpx.post(f"{handle_url}/api/v1/storage/tus/",
                         headers={**headers, "Upload-Length": "1000"})
    location = urlsplit(created.headers["Location"])
    parts = urlsplit(handle_url)
    assert parts.hostname is not None and parts.port is not None
    sock = socket.create_connection((parts.hostname, parts.port))
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sock.sendall((f"PATCH {location.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n{head}"
                  "Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n"
                  "Content-Length: 1000\r\n\r\n").encode() + b"x" * 10)
    return sock


def test_a_sign_in_during_a_server_switch_is_not_undone(
        qtbot: QtBot, start_app: Any, live_server: ServerHandle) -> None:
    """Switching to a school server where the teacher is not signed in yet: the engine sends
    there at once while the built-in server stops in the background. A sign-in ending in
    that time must stay in use, not be replaced by the switch's older "no token"."""
    settings = Settings()
    app = start_app(settings)
    assert app.target is not None and app.target.local
    held = _hold_a_request(app.target.url, app.target.token)
    try:
        # Sent is not handled yet. The built-in server runs at a lower priority: under load
        # it had not taken the request up when told to stop, stopped at once, and the
        # switch ended before the sign-in, so the race below was never run (a failure).
        server = app.local_server
        assert server is not None
        qtbot.waitUntil(lambda: server._in_flight is not None and server._in_flight.count > 0,
                        timeout=WAIT_MS)
        app.apply_settings(dataclasses.replace(settings, server_url=live_server.url))
        qtbot.waitUntil(lambda: not app.target.local, timeout=WAIT_MS)
        assert app.switching and app.target.token is None  # the old server still stops
        app.accounts.sign_in(live_server.url, live_server.token)
        qtbot.waitUntil(lambda: app.target.token == live_server.token, timeout=WAIT_MS)
        assert app.switching  # the race: the sign-in ended first
        held.close()  # the old server need not wait out its grace period now
        with qtbot.waitSignal(app.settings_applied, timeout=30000):
            pass
        assert app.target.token == live_server.token
        assert app.window.server_label.text() == f"Server: {live_server.url}"
    finally:
        held.close()
