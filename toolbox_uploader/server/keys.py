"""Typed keys of everything the server application holds (aiohttp ``web.AppKey``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from toolbox_uploader.server.accounts import AccountStore
    from toolbox_uploader.server.config import ServerConfig
    from toolbox_uploader.server.db import ServerDatabase
    from toolbox_uploader.server.progress import ProgressHub
    from toolbox_uploader.server.storage import Storage

CONFIG: web.AppKey[ServerConfig] = web.AppKey("config")
DATABASE: web.AppKey[ServerDatabase] = web.AppKey("database")
ACCOUNTS: web.AppKey[AccountStore] = web.AppKey("accounts")
STORAGE: web.AppKey[Storage] = web.AppKey("storage")
PROGRESS: web.AppKey[ProgressHub] = web.AppKey("progress")
DEFAULT_TOKEN: web.AppKey[str] = web.AppKey("default_token")
