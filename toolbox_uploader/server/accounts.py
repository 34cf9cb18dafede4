"""Accounts and their bearer tokens.

Tokens are 256-bit random strings, so a plain SHA-256 of the token is a safe stored
form (no slow password hash is needed for secrets that cannot be guessed), and it lets
a request be authenticated with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
import uuid
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


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


class AccountStore:
    def __init__(self, db: ServerDatabase) -> None:
        self.db = db

    def create(
        self, name: str, quota_bytes: int | None = None, token: str | None = None
    ) -> tuple[Account, str]:
        name = name.strip()
        if not name or len(name) > 64 or any(ord(c) < 32 for c in name):
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
        # ``files``), reserved ones from the few uploads still receiving.
        row = self.db.fetchone(
            "SELECT (SELECT used FROM account_usage WHERE owner = ?1),"
            " (SELECT SUM(COALESCE(length, offset)) FROM uploads"
            "  WHERE owner = ?1 AND status = 'receiving' AND kind != 'final')",
            (account.id,),
        )
        used, reserved = (row[0] or 0, row[1] or 0) if row else (0, 0)
        return Usage(int(used), int(reserved), account.quota_bytes)

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
