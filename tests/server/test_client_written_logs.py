"""A client must not be able to write to the server's log (or grow its memory) at will.

Two holes next to the parse errors of ``test_unreadable_requests``: a body whose
``Content-Encoding`` does not decode, left unread by its handler (aiohttp reads it after
the answer and logged a 30-line traceback at ERROR), and multipart parts with a malformed
``Content-Disposition`` (aiohttp warned once per distinct header text, on stderr and in
the warnings registry, without bound).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.multipart import BadContentDispositionHeader, BadContentDispositionParam
from aiohttp.test_utils import TestClient

from tests.support.raw_http import exchange
from toolbox_uploader.server import keys
from toolbox_uploader.server.app import create_app
from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.embedded import ServerHandle


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_an_undecodable_body_nobody_reads_leaves_no_traceback(
    live_server: ServerHandle, caplog: pytest.LogCaptureFixture, coding: str
) -> None:
    body = b"these bytes are not compressed " * 4
    request = (
        f"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Encoding: {coding}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            assert b" 200 OK" in exchange(live_server.url, request)
        time.sleep(0.1)  # a record is written right after the connection closes
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert not noisy, [r.getMessage()[:200] for r in noisy]
    assert all("\n" not in r.getMessage() for r in caplog.records if r.name == "aiohttp.server")


async def test_malformed_content_dispositions_raise_no_warnings(
    aiohttp_client: Callable[..., Awaitable[TestClient]], server_config: ServerConfig
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # what the server installs must win over this
        client = await aiohttp_client(create_app(server_config))
        headers = {
            "Authorization": f"Bearer {client.app[keys.DEFAULT_TOKEN]}",
            "Content-Type": "multipart/form-data; boundary=zz",
        }
        for n, disposition in enumerate([
            'form-data; name="file"; filename="a.txt"; junk{n}',
            "form-data; name=",
            ";;;{n};",
            'form-data; name="file"; filename*=nonsense{n}',
        ]):
            body = (f"--zz\r\nContent-Disposition: {disposition.format(n=n)}\r\n\r\nhi\r\n"
                    "--zz--\r\n").encode()
            resp = await client.post("/api/v1/files/upload", data=body, headers=headers)
            assert resp.status < 500
            if resp.status >= 400:
                assert "error" in await resp.json()
    from_aiohttp = [w for w in caught if issubclass(
        w.category, BadContentDispositionHeader | BadContentDispositionParam)]
    assert not from_aiohttp, [str(w.message)[:80] for w in from_aiohttp]
