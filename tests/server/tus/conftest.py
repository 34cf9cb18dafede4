"""Fixtures for the tus endpoint: a real app on a loopback port via pytest-aiohttp."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from pathlib import Path

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient
from yarl import URL

from toolbox_uploader.server import keys
from toolbox_uploader.server.app import create_app
from toolbox_uploader.server.config import ServerConfig

TUS = "/api/v1/storage/tus/"
OCTET = "application/offset+octet-stream"


def encode_metadata(values: Mapping[str, str | bytes | None]) -> str:
    parts = []
    for key, value in values.items():
        if value is None:
            parts.append(key)
            continue
        raw = value.encode() if isinstance(value, str) else value
        parts.append(f"{key} {base64.b64encode(raw).decode()}")
    return ",".join(parts)


class Tus:
    """A thin helper that speaks tus to a test client with one account's token."""

    TUS = TUS
    OCTET = OCTET
    metadata = staticmethod(encode_metadata)

    @staticmethod
    def upload_id(url: str) -> str:
        return url.rstrip("/").rsplit("/", 1)[-1]

    @staticmethod
    def text(size: int) -> bytes:
        """Plain text libmagic calls text/plain, so it passes the default category."""
        line = b"The quick brown fox jumps over the lazy dog. 0123456789\n"
        return (line * (size // len(line) + 1))[:size]

    @staticmethod
    def rel(url: str) -> str:
        """The path of a Location URL (the test client takes paths only)."""
        return URL(url).path if url else url

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.token = token

    def headers(self, extra: Mapping[str, str] | None = None, **more: str) -> dict[str, str]:
        headers = {"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {self.token}"}
        headers.update(extra or {})
        headers.update({k.replace("_", "-"): v for k, v in more.items()})
        return headers

    async def create(
        self,
        length: int | None,
        metadata: Mapping[str, str | bytes | None] | None = None,
        expect: int = 201,
        **headers: str,
    ) -> str:
        extra = {k.replace("_", "-"): v for k, v in headers.items()}
        if length is None:
            extra.setdefault("Upload-Defer-Length", "1")
        else:
            extra["Upload-Length"] = str(length)
        meta = {"filename": "notes.txt"} if metadata is None else metadata
        if meta:
            extra["Upload-Metadata"] = encode_metadata(meta)
        resp = await self.client.post(TUS, headers=self.headers(extra))
        body = await resp.text()
        assert resp.status == expect, body
        return self.rel(resp.headers.get("Location", ""))

    async def patch(
        self, url: str, offset: int, data: bytes, expect: int | None = 204, **headers: str
    ) -> ClientResponse:
        resp = await self.client.patch(
            self.rel(url),
            data=data,
            headers=self.headers(
                {"Upload-Offset": str(offset), "Content-Type": OCTET}, **headers
            ),
        )
        await resp.read()
        if expect is not None:
            assert resp.status == expect, await resp.text()
        return resp

    async def open_raw(self, method: str, path: str, length: int, headers: Mapping[str, str]):
        """Start a request with a body on a raw socket; the test sends (part of) the body."""
        reader, writer = await asyncio.open_connection(self.client.host, self.client.port)
        lines = [
            f"{method} {self.rel(path)} HTTP/1.1",
            f"Host: {self.client.host}:{self.client.port}",
            *(f"{k}: {v}" for k, v in self.headers(
                {"Content-Type": OCTET, "Content-Length": str(length), **headers}).items()),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        return reader, writer

    async def head(self, url: str, expect: int | None = 200) -> ClientResponse:
        resp = await self.client.head(self.rel(url), headers=self.headers())
        if expect is not None:
            assert resp.status == expect
        return resp


@pytest.fixture
def tus_config(server_config: ServerConfig) -> ServerConfig:
    server_config.cleanup_interval = 3600.0
    server_config.options["progress_interval"] = 0.0
    return server_config


@pytest.fixture
async def tus_app(tus_config: ServerConfig) -> web.Application:
    return create_app(tus_config)


@pytest.fixture
async def client(aiohttp_client, tus_app: web.Application) -> TestClient:
    return await aiohttp_client(tus_app)


@pytest.fixture
def tus(client: TestClient) -> Tus:
    return Tus(client, client.app[keys.DEFAULT_TOKEN])


@pytest.fixture
def data_dir(tus_config: ServerConfig) -> Path:
    return tus_config.data_dir


@pytest.fixture
def make_tus() -> type[Tus]:
    """The helper class, for tests that build their own app or use another account."""
    return Tus
