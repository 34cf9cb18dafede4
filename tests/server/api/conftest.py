"""The real app under pytest-aiohttp's test server, with a second account."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from _api_support import Api
from aiohttp.test_utils import TestClient

from toolbox_uploader.server import keys
from toolbox_uploader.server.app import create_app
from toolbox_uploader.server.config import ServerConfig


@pytest.fixture
def api_config(server_config: ServerConfig) -> ServerConfig:
    server_config.options["progress_interval"] = 0.0
    return server_config


@pytest.fixture
async def api(
    aiohttp_client: Callable[..., Awaitable[TestClient]], api_config: ServerConfig
) -> Api:
    client = await aiohttp_client(create_app(api_config))
    app = client.server.app
    other = app[keys.ACCOUNTS].create("other", None)[1]
    return Api(client, app[keys.DEFAULT_TOKEN], other)

