"""Tokens a hostile or clumsy client sends: bytes that are not text, tokens in the URL."""

from __future__ import annotations

import asyncio

from _api_support import Api, error_of

TUS = "/api/v1/storage/tus/"


async def _raw_status(api: Api, request: bytes) -> tuple[int, bytes]:
    """Send ``request`` byte for byte (a client library would refuse to) and read the answer."""
    reader, writer = await asyncio.open_connection(api.client.server.host,
                                                   api.client.server.port)
    try:
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(65536), 10)
    finally:
        writer.close()
    return int(answer.split(b" ", 2)[1]), answer


async def test_a_token_that_is_not_utf8_is_401_not_500(api: Api) -> None:
    for method, path in (("GET", "/api/v1/files"), ("GET", "/api/v1/quota"),
                         ("POST", TUS), ("HEAD", TUS + "0" * 32)):
        status, answer = await _raw_status(api, (
            f"{method} {path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n"
            "Connection: close\r\nAuthorization: Bearer "
        ).encode() + b"\xff\xfe\xc3(\r\n\r\n")
        assert status == 401, answer[:300]
        if method != "HEAD":
            assert b'"error": "unauthorized"' in answer


async def test_a_query_token_counts_on_websocket_routes_only(api: Api) -> None:
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade"}
    for path in ("/api/v1/files", "/api/v1/quota"):
        r = await api.client.get(path, params={"token": api.token}, headers=upgrade)
        assert r.status == 401, path
        assert error_of(await r.json()) == "unauthorized"
    r = await api.client.get("/api/v1/files", headers=api.headers)
    assert r.status == 200


async def test_a_websocket_token_sent_twice_differing_is_400(api: Api) -> None:
    r = await api.client.post(TUS, headers={
        **api.headers, "Tus-Resumable": "1.0.0", "Upload-Length": "10",
        "Upload-Metadata": "filename bm90ZXMudHh0",
    })
    assert r.status == 201, await r.text()
    path = "/ws/upload/" + r.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    for header_token, query_token in ((api.token, api.other_token),
                                      (api.other_token, api.token)):
        r = await api.client.get(path, params={"token": query_token},
                                 headers={**upgrade, "Authorization": f"Bearer {header_token}"})
        assert r.status == 400, await r.text()
        assert error_of(await r.json()) == "invalid_parameter"
    ws = await api.client.ws_connect(path, params={"token": api.token}, headers=api.headers)
    message = await ws.receive_json(timeout=10)
    assert message["data"]["total_bytes"] == 10
    await ws.close()
