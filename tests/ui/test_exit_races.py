"""Worker threads that answer after their Qt object is gone: no signal may reach it.

A keyring look-up (or a settings change) finishing on its worker thread while the GUI
thread destroys the object it reports to corrupted the heap: a test run that passed
crashed at interpreter exit ("free(): invalid next size"). The races run in a
subprocess, so that such a crash fails the test instead of ending the test run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import keyring
from keyring.backend import KeyringBackend
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from toolbox_uploader.settings import Settings

_LOOK_UPS_WHILE_DESTROYED = textwrap.dedent("""
    import sys, time
    from PySide6.QtCore import QObject
    from PySide6.QtWidgets import QApplication
    from toolbox_uploader.ui.accounts import Accounts

    app = QApplication(sys.argv[:1])
    for n in range(200):
        owner = QObject()  # the app (or a Settings dialog) that owns the accounts
        accounts = Accounts(owner)
        for _ in range(3):
            accounts.look_up("https://files.school.example")
        time.sleep(0.0005 * (n % 5))  # answers arrive before, during and after
        del accounts, owner  # destroyed on the GUI thread, answers still on their way
        app.processEvents()
    time.sleep(0.3)
    app.processEvents()
    print("clean")
""")


def test_look_ups_answering_while_their_owner_is_destroyed_do_not_crash(
        tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_DATA_HOME": str(tmp_path),
           "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring"}
    run = subprocess.run([sys.executable, "-c", _LOOK_UPS_WHILE_DESTROYED], env=env,
                         capture_output=True, text=True, timeout=60, check=False)
    assert (run.returncode, run.stdout.strip()) == (0, "clean"), run.stderr[-2000:]


class _HeldKeyring(KeyringBackend):
    """A keyring whose answer waits until the test lets it go (a locked password store)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.asked = threading.Event()
        self.go = threading.Event()

    def get_password(self, service: str, username: str) -> str | None:
        self.asked.set()
        self.go.wait(10)
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise NotImplementedError

    def delete_password(self, service: str, username: str) -> None:
        raise NotImplementedError


def test_a_server_switch_answering_after_quit_sends_no_signal(
        qtbot: QtBot, start_app: Any) -> None:
    """Quit while the keyring still holds the answer for a new server: the worker that
    gets it later leaves the app alone (it may be destroyed by then)."""
    app = start_app()
    held = _HeldKeyring()
    before = keyring.get_keyring()
    keyring.set_keyring(held)
    try:
        app.apply_settings(Settings(server_url="https://files.school.example"))
        assert held.asked.wait(10)
        thread = app._switch.thread
        app.shutdown()
        emitted: list[object] = []
        # Direct: called on the worker thread as it emits, so known once it has ended.
        app._switch_finished.connect(emitted.append, Qt.ConnectionType.DirectConnection)
        held.go.set()
        thread.join(10)
        assert not thread.is_alive()
        assert emitted == []
    finally:
        held.go.set()
        keyring.set_keyring(before)
