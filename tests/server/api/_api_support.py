"""Helpers of the API tests: an ``Api`` wrapper around the test client, sample files."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient
from PIL import Image

from toolbox_uploader.server import keys

ELF = Path("/bin/true").read_bytes()


def png_bytes(size: int = 16, color: str = "teal") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, "PNG")
    return buffer.getvalue()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Api:
    """A client plus the tokens of two accounts: ``teacher`` (default) and ``other``."""

    client: TestClient
    token: str
    other_token: str

    @property
    def app(self) -> web.Application:
        return self.client.server.app

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)

    async def upload(
        self, content: bytes, filename: str = "notes.txt", token: str | None = None,
        **fields: str,
    ) -> aiohttp.ClientResponse:
        """Upload as a browser would: raw UTF-8 names, fields before the file."""
        parts = [(name, None, value.encode()) for name, value in fields.items()]
        return await self.client.post(
            "/api/v1/files/upload", data=multipart(*parts, ("file", filename, content)),
            headers={**bearer(token or self.token), "Content-Type": MULTIPART_TYPE},
        )

    async def stored(self, content: bytes, filename: str = "notes.txt", **fields: str) -> dict:
        response = await self.upload(content, filename, **fields)
        body = await response.json()
        assert response.status == 201, body
        return body

    def add_account(self, name: str, quota: int | None = None) -> str:
        return self.app[keys.ACCOUNTS].create(name, quota)[1]


def error_of(body: Any) -> str:
    """The error code of a JSON error body (and a check that it has the agreed shape)."""
    assert isinstance(body, dict) and set(body) >= {"error", "message"}, body
    return body["error"]


BOUNDARY = "----toolboxTestBoundary7MA4YWxk"


def multipart(*parts: tuple[str, str | None, bytes], boundary: str = BOUNDARY) -> bytes:
    """A hand-made ``multipart/form-data`` body, so tests control every byte of it.

    Each part is ``(name, filename or None, content)``; names and filenames are written
    verbatim (quotes included), as a hostile client would. A filename starting with
    ``*=`` is written as the RFC 5987 ``filename*`` parameter.
    """
    out = bytearray()
    for name, filename, content in parts:
        out += f"--{boundary}\r\n".encode()
        disposition = f'form-data; name="{name}"'
        if filename is not None and filename.startswith("*="):
            disposition += f"; filename{filename}"
        elif filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"Content-Disposition: {disposition}\r\n".encode()
        if filename is not None:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n" + content + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


MULTIPART_TYPE = f"multipart/form-data; boundary={BOUNDARY}"

