"""The application factory: ``create_app(config)`` builds a ready-to-run aiohttp app.

Resources live in ``cleanup_ctx`` (database, storage, the default account) so that a
test, the CLI and the embedded starter all get the same, fully owned instance — no
module-level singletons.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from toolbox_uploader.server import api, cors, health, keys, tus
from toolbox_uploader.server.accounts import AccountStore
from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.db import ServerDatabase
from toolbox_uploader.server.errors import error_middleware, plain_errors_as_json
from toolbox_uploader.server.expect_continue import close_if_not_invited
from toolbox_uploader.server.http_log import quiet_parse_errors
from toolbox_uploader.server.progress import ProgressHub
from toolbox_uploader.server.storage import Storage

DB_FILE = "server.sqlite3"


def open_resources(app: web.Application) -> None:
    """Open the database and storage and make sure the default account exists."""
    config = app[keys.CONFIG]
    config.data_dir.mkdir(parents=True, exist_ok=True)
    db = ServerDatabase(config.data_dir / DB_FILE)
    app[keys.DATABASE] = db
    app[keys.ACCOUNTS] = AccountStore(db)
    app[keys.STORAGE] = Storage(config.data_dir)
    app[keys.DEFAULT_TOKEN] = app[keys.ACCOUNTS].ensure_default(
        config.data_dir, config.default_account, config.default_quota, config.token
    )


async def _resources(app: web.Application) -> AsyncIterator[None]:
    if keys.DATABASE not in app:
        open_resources(app)
    yield
    app[keys.DATABASE].close()


def create_app(config: ServerConfig) -> web.Application:
    # client_max_size bounds only bodies read whole (JSON); uploads are streamed.
    app = web.Application(
        middlewares=[cors.cors_middleware, error_middleware], client_max_size=4 * 1024 * 1024
    )
    quiet_parse_errors()
    app[keys.CONFIG] = config
    app.on_response_prepare.append(plain_errors_as_json)
    app.on_response_prepare.append(close_if_not_invited)
    app[keys.PROGRESS] = ProgressHub(float(config.options.get("progress_interval", 0.2)))
    app.cleanup_ctx.append(_resources)
    health.setup(app)
    tus.setup(app)
    api.setup(app)
    return app
