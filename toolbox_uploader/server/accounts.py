"""Accounts, their bearer tokens, and what their quota has room for.

Tokens are 256-bit random strings, so a plain SHA-256 of the token is a safe stored
form (no slow password hash is needed for secrets that cannot be guessed), and it lets
a request be authenticated with one indexed lookup.

The database counts stored files and the declared lengths of uploads in progress. Bytes
that arrive without a declared length (a deferred-length tus upload, a form upload) are
only in the request reading them until they are committed or stored, so parallel
requests would each see the same free room; ``take`` holds them here in the meantime,
checking and counting in one step on the event loop.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from toolbox_uploader.server.db import ServerDatabase

TOKEN_FILE = "default-token"


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    name: str
    quota_bytes: int | None


@dataclass(frozen=True, slots=True)
class Usage:
    used: int  # bytes of stored files
    reserved: int  # declared bytes of uploads still in progress
    limit: int | None

    @property
    def available(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used - self.reserved)


class AccountError(ValueError):
    pass


def _nothing_committed() -> int:
    return 0


@dataclass(eq=False, slots=True)
class _Held:
    """Bytes one request took in; ``committed()`` of them the database counts by now."""

    account_id: str
    taken: int = 0
    committed: Callable[[], int] = _nothing_committed

    def pending(self) -> int:
        return max(0, self.taken - self.committed())


def account_name(text: str) -> str | None:
    """``text`` as an account name (without surrounding blanks), or None if it cannot be
    one: 1 to 64 characters, none of them a control character."""
    name = text.strip()
    if not name or len(name) > 64 or any(ord(c) < 32 for c in name):
        return None
    return name


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


class AccountStore:
    def __init__(self, db: ServerDatabase) -> None:
        self.db = db
        self._held: dict[str, _Held] = {}  # by request key (an upload's or file's id)

    def create(
        self, name: str, quota_bytes: int | None = None, token: str | None = None
    ) -> tuple[Account, str]:
        name = account_name(name) or ""
        if not name:
            raise AccountError("an account name is 1 to 64 printable characters")
        if quota_bytes is not None and quota_bytes < 0:
            raise AccountError("a quota cannot be negative")
        token = token or new_token()
        account = Account(uuid.uuid4().hex, name, quota_bytes)
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM accounts WHERE name = ?", (name,)).fetchone():
                raise AccountError(f"an account named {name!r} exists already")
            conn.execute(
                "INSERT INTO accounts (id, name, token_hash, quota_bytes, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (account.id, name, hash_token(token), quota_bytes, time.time()),
            )
        return account, token

    def set_token(self, name: str, token: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE accounts SET token_hash = ? WHERE name = ?", (hash_token(token), name)
            )

    def by_name(self, name: str) -> Account | None:
        row = self.db.fetchone("SELECT id, name, quota_bytes FROM accounts WHERE name = ?", (name,))
        return Account(row["id"], row["name"], row["quota_bytes"]) if row else None

    def authenticate(self, token: str) -> Account | None:
        if not token:
            return None
        try:
            digest = hash_token(token)
        except UnicodeEncodeError:  # header bytes that are not UTF-8 (lone surrogates)
            return None
        row = self.db.fetchone(
            "SELECT id, name, quota_bytes FROM accounts WHERE token_hash = ?", (digest,)
        )
        return Account(row["id"], row["name"], row["quota_bytes"]) if row else None

    def all(self) -> list[Account]:
        rows = self.db.fetchall("SELECT id, name, quota_bytes FROM accounts ORDER BY name")
        return [Account(r["id"], r["name"], r["quota_bytes"]) for r in rows]

    def usage(self, account: Account) -> Usage:
        # One statement: stored bytes come from ``account_usage`` (kept by triggers on
        # ``files``), reserved ones from the few uploads still receiving. A final upload
        # counts once its parts are joined into it (an offset): until then they count.
        row = self.db.fetchone(
            "SELECT (SELECT used FROM account_usage WHERE owner = ?1),"
            " (SELECT SUM(COALESCE(length, offset)) FROM uploads"
            "  WHERE owner = ?1 AND status = 'receiving' AND (kind != 'final' OR offset > 0))",
            (account.id,),
        )
        used, reserved = (row[0] or 0, row[1] or 0) if row else (0, 0)
        reserved += sum(h.pending() for h in list(self._held.values())
                        if h.account_id == account.id)
        return Usage(int(used), int(reserved), account.quota_bytes)

    def take(self, account: Account, key: str, count: int,
             committed: Callable[[], int] = _nothing_committed) -> bool:
        """Hold ``count`` more bytes for the request ``key`` if the quota has room.

        ``committed`` (given with the first bytes) says how many of them the database
        already counts, so they are not counted twice. Call ``release(key)`` once they
        are stored, or will never be."""
        held = self._held.get(key)
        if held is None:
            held = self._held[key] = _Held(account.id, committed=committed)
        if account.quota_bytes is not None:
            available = self.usage(account).available
            if available is not None and count > available:
                return False
        held.taken += count
        return True

    def release(self, key: str) -> None:
        self._held.pop(key, None)

    def available(self, account: Account) -> int | None:
        """Bytes the account may still store; ``None`` without a quota (and no lookup)."""
        if account.quota_bytes is None:
            return None
        return self.usage(account).available

    def ensure_default(
        self, data_dir: Path, name: str, quota_bytes: int | None, token: str | None
    ) -> str:
        """Make sure the default account exists; return its token.

        Without an explicit token the one kept in ``data_dir/default-token`` (mode 0600)
        is used, or a new one is made and kept there.
        """
        token_path = Path(data_dir) / TOKEN_FILE
        if token is None and token_path.exists():
            token = token_path.read_text(encoding="utf-8").strip() or None
        if token is None:
            token = new_token()
        if self.by_name(name) is None:
            self.create(name, quota_bytes, token)
        else:
            self.set_token(name, token)
        _write_private(token_path, token)
        return token


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    os.chmod(path, 0o600)
