"""Where the sign-in token comes from, and the only place that touches the keyring.

Precedence: the ``--token`` flag, then ``TOOLBOX_UPLOADER_TOKEN``, then the system keyring
(service ``toolbox-uploader``, user = the server URL). Tokens are never written to the
session store, config files or logs; ``mask`` is what may appear in messages, and
``account_mark`` what the store keeps to tell accounts apart.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re

import keyring
from keyring.errors import KeyringError, PasswordDeleteError

SERVICE = "toolbox-uploader"
TOKEN_ENV = "TOOLBOX_UPLOADER_TOKEN"

log = logging.getLogger(__name__)

_SENDABLE = re.compile(r"[\x21-\x7e]+")  # what an Authorization header can carry as is


def _user(server_url: str) -> str:
    return server_url.rstrip("/")


def resolve_token(flag: str | None, server_url: str) -> str | None:
    if flag:
        return flag
    env = os.environ.get(TOKEN_ENV, "").strip()
    if env:
        return env
    try:
        return keyring.get_password(SERVICE, _user(server_url))
    except KeyringError as exc:  # no usable backend: behave as "not signed in"
        log.warning("keyring unavailable: %s", type(exc).__name__)
        return None


def store_token(server_url: str, token: str) -> None:
    keyring.set_password(SERVICE, _user(server_url), token)


def delete_token(server_url: str) -> None:
    with contextlib.suppress(PasswordDeleteError):
        keyring.delete_password(SERVICE, _user(server_url))


def token_problem(token: str) -> str | None:
    """Why ``token`` cannot be sent to a server, or None. A pasted token with a space, a
    line break or a typographic character would otherwise fail every request with an
    encoding error instead of asking for a sign-in."""
    if _SENDABLE.fullmatch(token):
        return None
    if not token:
        return "The token is empty."
    return ("The token has characters a token cannot have (spaces, line breaks or letters "
            "beyond plain ASCII); copy it again exactly as your school gave it.")


def mask(token: str | None) -> str:
    """A token as it may appear in a message: never more than its last four characters."""
    if not token:
        return "(none)"
    return "…" + token[-4:] if len(token) > 8 else "…"


def account_mark(server_key: str, token: str | None) -> str | None:
    """Which account a token stands for, as the session store may keep it: 32 bits of a
    SHA-256 of the server and the token. Enough to tell a school's accounts apart on one
    machine, far too little to find the token again from the store."""
    if not token:
        return None
    digest = hashlib.sha256(f"toolbox-uploader\0{server_key}\0{token}".encode())
    return digest.hexdigest()[:8]
