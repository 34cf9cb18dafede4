"""No request, however malformed, gets a 500 or a traceback; errors are JSON.

Requests that aiohttp's HTTP parser rejects (broken framing, oversized or invalid header
lines) never reach the application; those get aiohttp's own plain 400 and are checked
here for status and the absence of a traceback.
"""

from __future__ import annotations

import asyncio
import time

from _api_support import BOUNDARY, MULTIPART_TYPE, Api, error_of, multipart

from toolbox_uploader.server import keys
from toolbox_uploader.server.api.direct_upload import DIRECT_UPLOADS

ID = "0123456789abcdef0123456789abcdef"
ROUTES = [
    ("GET", "/api/v1/files"), ("GET", f"/api/v1/files/{ID}"), ("DELETE", f"/api/v1/files/{ID}"),
    ("GET", f"/api/v1/files/{ID}/content"), ("POST", "/api/v1/files/upload"),
    ("POST", "/api/v1/files/upload/batch"), ("GET", "/api/v1/quota"),
    ("GET", f"/ws/upload/{ID}"), ("GET", "/api/v1/openapi.json"), ("GET", "/healthz"),
]
HEADER_VARIANTS = [
    {},
    {"Content-Type": MULTIPART_TYPE},  # the right type: the bodies below reach the parser
    {"Content-Type": "multipart/form-data"},  # no boundary
    {"Content-Type": "multipart/form-data; boundary="},
    {"Content-Type": "multipart/form-data; boundary=" + "b" * 200},
    {"Content-Type": "multipart/mixed; boundary=zz"},
    {"Content-Type": "application/json"},
    {"Content-Type": "text/plain; charset=nope"},
    {"Content-Type": "///"},
    {"Range": "bytes=zzz"},
    {"Accept": "text/html"},
    {"Upgrade": "websocket", "Connection": "Upgrade"},
    {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
     "Sec-WebSocket-Key": "not base64!"},
    {"Content-Encoding": "gzip"},
]
BODIES = [
    b"",
    b"garbage",
    multipart(("file", "a.txt", b"cut off"))[:-30],  # truncated: no closing boundary
    f"--{BOUNDARY}\r\n\r\nno disposition\r\n--{BOUNDARY}--\r\n".encode(),
    f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n"
    f"Content-Transfer-Encoding: base64\r\n\r\nYQ==\r\n--{BOUNDARY}--\r\n".encode(),
    f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"x\"\r\n"
    f"Content-Type: multipart/mixed; boundary=inner\r\n\r\n--inner--\r\n"
    f"--{BOUNDARY}--\r\n".encode(),
    f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"title\"\r\n"
    f"Content-Type: text/plain; charset=utf-8\r\n\r\n\xff\xfe\r\n--{BOUNDARY}--\r\n"
    .encode("latin-1"),
    f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"title\"\r\n"
    f"Content-Type: text/plain; charset=klingon\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode(),
    f"--{BOUNDARY}\r\nX: {'h' * 9000}\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode(),
    multipart(("manifest", None, b"\x00\x01"), ("files", "a", b"a")),
    multipart(("manifest", None, b'[{"category": null, "tags": null, "size": -1}]'),
              ("files", "a", b"a")),
    multipart(("manifest", None, b"[" * 300_000 + b"]" * 300_000), ("files", "a", b"a")),
    multipart(("tags", None, b"[" * 30_000 + b"]" * 30_000), ("file", "a", b"a")),
    multipart(("size", None, b"99999999999999999999"), ("file", "a", b"a")),
    multipart(("file", "\x00\r\nX-Injected: 1", b"a")),
    multipart(("file", "a" * 5000 + ".txt", b"abc\n")),
]


async def check(response, what: object) -> None:
    assert response.status < 500, what
    if response.status == 101:
        return
    if response.status >= 400:
        error_of(await response.json())


async def test_every_route_survives_malformed_requests(api: Api) -> None:
    tokens = [api.headers, {"Authorization": "Bearer \u00ff\u00fe"}, {}]
    for method, path in ROUTES:
        for auth in tokens:
            for headers in HEADER_VARIANTS:
                for body in BODIES if method == "POST" else [b"", b"garbage"]:
                    async with api.client.request(  # a fresh connection for every case
                        method, path, data=body,
                        headers={**auth, **headers, "Connection": "close"},
                    ) as r:
                        await check(r, (method, path, headers, body[:40]))
    assert list(api.app[keys.STORAGE].tmp_dir.iterdir()) == []
    assert api.app[DIRECT_UPLOADS] == {}
    assert api.app[keys.PROGRESS]._tracks == {}  # every failed upload ended its tracking


async def test_bad_ids_queries_methods_and_paths(api: Api) -> None:
    for path in (
        "/api/v1/files/..%2F..%2Fetc%2Fpasswd", "/api/v1/files/%00", "/api/v1/files/Ü" * 3,
        f"/api/v1/files/{ID.upper()}", f"/api/v1/files/{ID}/content/..", "/api/v1/filesx",
        "/ws/upload/abc", f"/ws/upload/{ID}x", "/api/v2/files", "/", "/api/v1/files/" + "a" * 5000,
        "/api/v1/files?limit=" + "9" * 5000, "/api/v1/files?offset=%ff%fe",
        "/api/v1/files?category=%00",
    ):
        r = await api.client.get(path, headers=api.headers)
        await check(r, path)
        assert r.status in (400, 404), path
    for method, path in (("PUT", "/api/v1/files"), ("POST", "/api/v1/quota"),
                         ("PATCH", f"/api/v1/files/{ID}"), ("GET", "/api/v1/files/upload"),
                         ("DELETE", "/api/v1/files/upload/batch"), ("POST", "/healthz")):
        r = await api.client.request(method, path, headers=api.headers)
        assert r.status == 405, (method, path)
        assert error_of(await r.json()) == "method_not_allowed"
        assert r.headers["Allow"]


async def raw_exchange(api: Api, payload: bytes, timeout: float = 10.0) -> bytes:
    reader, writer = await asyncio.open_connection(api.client.server.host,
                                                   api.client.server.port)
    try:
        writer.write(payload)
        await writer.drain()
        return await asyncio.wait_for(reader.read(65536), timeout)
    finally:
        writer.close()


async def test_broken_framing_gets_a_plain_400_never_a_500(api: Api) -> None:
    auth = f"Authorization: Bearer {api.token}\r\n"
    for request in (
        f"GET /api/v1/files HTTP/1.1\r\nHost: x\r\nX-Big: {'a' * 20000}\r\n{auth}\r\n",
        f"GET /api/v1/files HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n{auth}\r\n",
        f"POST /api/v1/files/upload HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n{auth}\r\n",
        f"POST /api/v1/files/upload HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n{auth}\r\n",
        f"POST /api/v1/files/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        f"{auth}Content-Type: {MULTIPART_TYPE}\r\n\r\nzz\r\nnot hex\r\n",
        "GARBAGE\r\n\r\n",
        f"GET /api/v1/files/{'x' * 20000} HTTP/1.1\r\nHost: x\r\n\r\n",
    ):
        answer = await raw_exchange(api, request.encode())
        status = int(answer.split(b" ", 2)[1])
        assert 400 <= status < 500, answer[:200]
        assert b"Traceback" not in answer


async def test_cut_off_upload_leaves_nothing_behind_and_server_lives_on(api: Api) -> None:
    body = multipart(("file", "a.bin", b"x" * 500_000))
    head = (
        f"POST /api/v1/files/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api.token}\r\n"
        f"Content-Type: {MULTIPART_TYPE}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    for cut in (10, 200, 300_000):
        _reader, writer = await asyncio.open_connection(api.client.server.host,
                                                        api.client.server.port)
        writer.write(head + body[:cut])
        await writer.drain()
        writer.close()
    tmp = api.app[keys.STORAGE].tmp_dir
    deadline = time.monotonic() + 10
    while list(tmp.iterdir()) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert list(tmp.iterdir()) == []
    r = await api.client.get("/api/v1/files", headers=api.headers)
    assert (await r.json())["total"] == 0


async def test_a_part_with_an_invalid_header_line_is_bad_multipart(api: Api) -> None:
    """A control character in a part's header is a malformed form (as docs/server.md
    says), answered in one readable line, not aiohttp's raw multi-line text."""
    body = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"a\x01.txt\"\r\n\r\nabc\r\n--{BOUNDARY}--\r\n").encode()
    async with api.client.post("/api/v1/files/upload", data=body, headers={
            **api.headers, "Content-Type": MULTIPART_TYPE}) as r:
        assert r.status == 400
        answer = await r.json()
    assert error_of(answer) == "bad_multipart"
    assert "\n" not in answer["message"] and "invalid header line" in answer["message"]
    assert list(api.app[keys.STORAGE].tmp_dir.iterdir()) == []
