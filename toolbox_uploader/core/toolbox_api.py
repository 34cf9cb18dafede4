"""The toolbox server's REST extras that are not part of tus.

The end-to-end check lives here: after a tus upload completes, the server's record of the
file (size and the sha256 it computed while receiving) is compared with the hash the client
computed while sending. A mismatch means the stored bytes are not the file: RESTART.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx

from toolbox_uploader.core.http_transport import new_http_client
from toolbox_uploader.core.source_files import open_source
from toolbox_uploader.core.transfer_errors import (
    ErrorKind,
    TransferError,
    classify_exception,
    classify_response,
)

TUS_PATH = "/api/v1/storage/tus/"


def tus_endpoint(server_url: str) -> str:
    return server_url.rstrip("/") + TUS_PATH


def upload_id(upload_url: str) -> str:
    """The last path segment of a tus upload URL; on a toolbox server it is the file id."""
    return urlsplit(upload_url).path.rstrip("/").rsplit("/", 1)[-1]


def file_link(server_url: str | None, upload_url: str) -> str:
    """Where a finished upload can be found: the file on a toolbox server, else (a plain
    tus server) the upload's own URL."""
    if not server_url:
        return upload_url
    return file_page(server_url, unquote(upload_id(upload_url)))


def file_page(server_url: str, file_id: str) -> str:
    """The toolbox server's record of file ``file_id`` (an id as the server gave it)."""
    return f"{server_url.rstrip('/')}/api/v1/files/{quote(file_id, safe='')}"


class ToolboxApi:
    """``base_url`` like ``http://127.0.0.1:8765``; every call sends the bearer token."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._own_client = client is None
        self._client = client or new_http_client(httpx.Timeout(timeout))

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()

    async def __aenter__(self) -> ToolboxApi:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._client.request(
                method, self.base_url + path, headers=self._headers, **kwargs
            )
        except httpx.HTTPError as exc:
            raise classify_exception(exc) from exc
        return response

    async def get_file(self, file_id: str) -> dict[str, Any]:
        """The server's record of a stored file: ``{"id", "sha256", "size", ...}``."""
        response = await self._call("GET", f"/api/v1/files/{file_id}")
        if response.status_code != 200:
            raise classify_response(response)
        data = response.json()
        if not isinstance(data, dict):
            raise TransferError(ErrorKind.TRANSIENT, "The server sent an unreadable file record.")
        return data

    async def find_file(self, *, sha256: str, relative_path: str) -> dict[str, Any] | None:
        """The newest stored copy of this content at this relative path, or ``None``."""
        response = await self._call("GET", "/api/v1/files", params={
            "sha256": sha256, "relative_path": relative_path, "limit": "1"})
        if response.status_code != 200:
            raise classify_response(response)
        data = response.json()
        files = data.get("files") if isinstance(data, dict) else None
        if not isinstance(files, list):
            raise TransferError(ErrorKind.TRANSIENT, "The server sent an unreadable file list.")
        found = files[0] if files else None
        return found if isinstance(found, dict) else None

    async def delete_file(self, file_id: str) -> None:
        """Delete a stored file (gone already counts as done)."""
        response = await self._call("DELETE", f"/api/v1/files/{file_id}")
        if response.status_code not in (204, 404):
            raise classify_response(response)

    async def verify(self, file_id: str, *, sha256: str, size: int) -> dict[str, Any]:
        """Compare the stored file with what was sent; a mismatch raises RESTART."""
        record = await self.get_file(file_id)
        if record.get("size") != size or str(record.get("sha256", "")).lower() != sha256.lower():
            raise TransferError(
                ErrorKind.RESTART,
                "The server's copy does not match the file (size or SHA-256 differ); "
                "it will be sent again.",
                code="sha256_mismatch",
            )
        return record

    async def direct_upload(
        self,
        source: Path,
        *,
        filename: str,
        relative_path: str,
        category: str,
        sha256: str | None,
    ) -> dict[str, Any]:
        """POST /api/v1/files/upload (multipart): a small file in one request, no tus.

        httpx streams the file part from disk, so this stays flat in memory too.
        """
        data = {"relative_path": relative_path, "category": category}
        size = source.stat().st_size
        data["size"] = str(size)
        if sha256:
            data["sha256"] = sha256
        with open_source(source) as handle:
            response = await self._call(
                "POST", "/api/v1/files/upload",
                data=data, files={"file": (filename, handle, "application/octet-stream")},
            )
        if response.status_code in (404, 405, 501):  # asked only after tus was not there
            raise TransferError(
                ErrorKind.FATAL, f"No ToolBox server answers at {self.base_url}: it offers "
                "neither tus nor the upload API. Check the server address.",
                status=response.status_code, code="not_a_toolbox_server")
        if response.status_code not in (200, 201):
            raise classify_response(response)
        record = response.json()
        if not isinstance(record, dict):
            raise TransferError(ErrorKind.TRANSIENT, "The server sent an unreadable file record.")
        return record

    async def tus_available(self) -> bool:
        """True when the server offers tus 1.0.0 at the usual endpoint."""
        try:
            response = await self._client.request(
                "OPTIONS", self.base_url + TUS_PATH, headers=self._headers
            )
        except httpx.HTTPError as exc:
            raise classify_exception(exc) from exc
        if response.status_code in (401, 403):
            raise classify_response(response)
        versions = response.headers.get("Tus-Version", "")
        return response.status_code in (200, 204) and "1.0.0" in versions
