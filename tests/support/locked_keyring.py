"""A keyring that waits for its unlock prompt, for tests that the window never waits on it.

Every call blocks until ``unlocked`` is set (at most ``LONGEST`` seconds), as the desktop's
password store does while its unlock prompt is open. Passwords live in a dict.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import keyring
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

LONGEST = 10.0


class LockedKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self, passwords: dict[tuple[str, str], str] | None = None) -> None:
        super().__init__()
        self.passwords = dict(passwords or {})
        self.unlocked = threading.Event()
        self.asked = threading.Event()  # set by the first call

    def _wait(self) -> None:
        self.asked.set()
        self.unlocked.wait(LONGEST)

    def get_password(self, service: str, username: str) -> str | None:
        self._wait()
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._wait()
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self._wait()
        if self.passwords.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


@contextlib.contextmanager
def locked_keyring(passwords: dict[tuple[str, str], str] | None = None,
                   ) -> Iterator[LockedKeyring]:
    """Use a ``LockedKeyring`` for the duration; it is unlocked (threads freed) at the end."""
    locked = LockedKeyring(passwords)
    before = keyring.get_keyring()
    keyring.set_keyring(locked)
    try:
        yield locked
    finally:
        locked.unlocked.set()
        keyring.set_keyring(before)
