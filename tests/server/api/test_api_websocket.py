"""``/ws/upload/{id}``: progress of real tus and direct uploads, final messages, access."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
import pytest
from _api_support import BOUNDARY, MULTIPART_TYPE, Api, bearer, error_of

from tests.support.payloads import blob
from toolbox_uploader.server import keys
from toolbox_uploader.server.api.direct_upload import DIRECT_UPLOADS

TUS = {"Tus-Resumable": "1.0.0"}


def _meta(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


async def create_tus_upload(api: Api, http: httpx.AsyncClient, length: int, **meta: str) -> str:
    r = await http.post("/api/v1/storage/tus/", headers={
        **TUS, **api.headers, "Upload-Length": str(length),
        "Upload-Metadata": _meta(filename="clip.bin", category="temporary", **meta),
    })
    assert r.status_code == 201, r.text
    return r.headers["Location"].rstrip("/").rsplit("/", 1)[-1]


async def patch(api: Api, http: httpx.AsyncClient, upload_id: str, offset: int,
                data: bytes) -> None:
    r = await http.patch(f"/api/v1/storage/tus/{upload_id}", content=data, headers={
        **TUS, **api.headers, "Upload-Offset": str(offset),
        "Content-Type": "application/offset+octet-stream",
    })
    assert r.status_code == 204, r.text


@pytest.fixture
async def http(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=str(api.client.make_url("")), timeout=10) as client:
        yield client


async def next_message(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any] | None:
    msg = await ws.receive(timeout=10)
    if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
        return None
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    event = msg.json()
    assert event["type"] == "upload_progress"
    assert set(event["data"]) >= {
        "file_id", "bytes_uploaded", "total_bytes", "progress_percentage", "status",
        "upload_speed", "estimated_time_remaining",
    }
    return event["data"]


async def until_bytes(ws: aiohttp.ClientWebSocketResponse, count: int) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        data = await next_message(ws)
        assert data is not None, "closed early"
        if data["bytes_uploaded"] >= count:
            return data
    raise AssertionError(f"no progress message reached {count} bytes")


async def test_tus_upload_progress_then_final_message_and_close(
    api: Api, http: httpx.AsyncClient
) -> None:
    data = blob(400_000)
    upload_id = await create_tus_upload(api, http, len(data))
    # A browser cannot set headers on a WebSocket: the token goes in the query.
    async with api.client.ws_connect(f"/ws/upload/{upload_id}?token={api.token}") as ws:
        first = await next_message(ws)
        assert first is not None
        assert (first["file_id"], first["status"], first["bytes_uploaded"],
                first["total_bytes"]) == (upload_id, "uploading", 0, len(data))
        for offset in range(0, 300_000, 100_000):
            await patch(api, http, upload_id, offset, data[offset:offset + 100_000])
            seen = await until_bytes(ws, offset + 100_000)
            assert seen["status"] == "uploading"
            assert seen["progress_percentage"] == pytest.approx(
                100 * seen["bytes_uploaded"] / len(data), abs=0.01)
        await patch(api, http, upload_id, 300_000, data[300_000:])
        final = await until_bytes(ws, len(data))
        while final["status"] == "uploading":
            final = await next_message(ws)
            assert final is not None
        assert (final["status"], final["progress_percentage"]) == ("completed", 100.0)
        assert await next_message(ws) is None
    r = await http.get(f"/api/v1/files/{upload_id}", headers=api.headers)
    assert r.json()["sha256"] == hashlib.sha256(data).hexdigest()


async def test_finished_uploads_get_one_final_message(api: Api, http: httpx.AsyncClient) -> None:
    done = await api.stored(b"already here\n")
    async with api.client.ws_connect(f"/ws/upload/{done['id']}", headers=api.headers) as ws:
        data = await next_message(ws)
        assert data is not None
        assert (data["status"], data["bytes_uploaded"], data["total_bytes"]) == (
            "completed", done["size"], done["size"])
        assert await next_message(ws) is None

    payload = b"checked content\n"
    failed = await create_tus_upload(api, http, len(payload), sha256="0" * 64)
    r = await http.patch(f"/api/v1/storage/tus/{failed}", content=payload, headers={
        **TUS, **api.headers, "Upload-Offset": "0",
        "Content-Type": "application/offset+octet-stream"})
    assert r.status_code >= 400
    async with api.client.ws_connect(f"/ws/upload/{failed}", headers=api.headers) as ws:
        data = await next_message(ws)
        assert data is not None and data["status"] == "failed"
        assert "SHA-256" in data["message"]
        assert await next_message(ws) is None


async def test_access_is_checked_before_the_upgrade(api: Api, http: httpx.AsyncClient) -> None:
    upload_id = await create_tus_upload(api, http, 10)
    path = f"/ws/upload/{upload_id}"
    for headers, status in ((bearer(api.other_token), 404), ({}, 401),
                            (bearer("wrong"), 401)):
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await api.client.ws_connect(path, headers=headers)
        assert info.value.status == status
        r = await api.client.get(path, headers={**headers, "Upgrade": "websocket",
                                                "Connection": "Upgrade"})
        assert r.status == status and error_of(await r.json())
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await api.client.ws_connect(f"/ws/upload/{'0' * 32}", headers=api.headers)
    assert info.value.status == 404
    r = await api.client.get(path, headers=api.headers)  # not a WebSocket request
    assert r.status == 426 and error_of(await r.json()) == "websocket_required"
    r = await api.client.get(f"{path}?token={api.token}")  # query token: WebSockets only
    assert r.status == 401


async def test_direct_upload_publishes_progress(api: Api) -> None:
    release = asyncio.Event()
    content = blob(3 * 256 * 1024)

    async def body() -> AsyncIterator[bytes]:
        yield (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"category\"\r\n\r\n"
               f"temporary\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
               f"filename=\"slow.bin\"\r\n\r\n").encode()
        yield content[:256 * 1024]
        await release.wait()
        yield content[256 * 1024:]
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    async with httpx.AsyncClient(base_url=str(api.client.make_url("")), timeout=10) as http:
        upload = asyncio.ensure_future(http.post(
            "/api/v1/files/upload", content=body(),
            headers={**api.headers, "Content-Type": MULTIPART_TYPE}))
        registry = api.app[DIRECT_UPLOADS]
        deadline = time.monotonic() + 10
        while not registry and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        [file_id] = list(registry)
        with pytest.raises(aiohttp.WSServerHandshakeError):  # not the other account's
            await api.client.ws_connect(f"/ws/upload/{file_id}",
                                        headers=bearer(api.other_token))
        async with api.client.ws_connect(f"/ws/upload/{file_id}", headers=api.headers) as ws:
            first = await next_message(ws)
            assert first is not None and first["status"] == "uploading"
            release.set()
            final = await until_bytes(ws, len(content))
            while final["status"] == "uploading":
                final = await next_message(ws)
                assert final is not None
            assert final["status"] == "completed"
            assert await next_message(ws) is None
        response = await upload
        assert response.status_code == 201 and response.json()["id"] == file_id
    assert file_id not in registry


async def test_client_leaving_early_unsubscribes(api: Api, http: httpx.AsyncClient) -> None:
    upload_id = await create_tus_upload(api, http, 100)
    hub = api.app[keys.PROGRESS]
    async with api.client.ws_connect(f"/ws/upload/{upload_id}", headers=api.headers) as ws:
        assert await next_message(ws) is not None
        assert hub._subscribers.get(upload_id)
    deadline = time.monotonic() + 10
    while hub._subscribers.get(upload_id) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert not hub._subscribers.get(upload_id)


async def test_terminated_upload_ends_the_stream(api: Api, http: httpx.AsyncClient) -> None:
    upload_id = await create_tus_upload(api, http, 1000)
    async with api.client.ws_connect(f"/ws/upload/{upload_id}", headers=api.headers) as ws:
        assert (await next_message(ws) or {}).get("status") == "uploading"
        r = await http.delete(f"/api/v1/storage/tus/{upload_id}", headers={**TUS, **api.headers})
        assert r.status_code == 204
        final = await next_message(ws)
        assert final is not None and final["status"] == "terminated"
        assert await next_message(ws) is None
    r = await api.client.get(f"/ws/upload/{upload_id}", headers=api.headers)
    assert r.status == 404  # gone: nothing left to watch
