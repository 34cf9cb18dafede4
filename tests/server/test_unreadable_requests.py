"""Requests aiohttp's HTTP parser cannot read: its 400, and one short log line each."""

from __future__ import annotations

import logging
import time

import pytest

from tests.support.raw_http import exchange
from toolbox_uploader.server.embedded import ServerHandle

UNREADABLE = [
    b"PATCH /api/v1/storage/tus/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"PATCH /api/v1/storage/tus/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"zz\r\nhello\r\n0\r\n\r\n",
    b"POST /api/v1/storage/tus/ HTTP/1.1\r\nHost: x\r\nUpload-Metadata: " + b"x" * 9000
    + b"\r\n\r\n",
    b"POST /api/v1/storage/tus/ HTTP/1.1\r\nHost: x\r\n" + b"X-A: 1\r\n" * 200 + b"\r\n",
    "GET /api/v1/files/\u00e9 HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nFOO / HTTP/1.1\r\nHost: x\r\n\r\n",
]


def test_unreadable_requests_are_400_without_tracebacks(
    live_server: ServerHandle, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        for request in UNREADABLE:
            assert b" 400 Bad Request" in exchange(live_server.url, request), request[:60]
        time.sleep(0.1)  # the last record is written right after the answer
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert not noisy, [r.getMessage()[:200] for r in noisy]
    lines = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert 0 < len(lines) <= len(UNREADABLE)
    assert all("\n" not in r.getMessage() for r in lines)


def test_without_info_logging_they_leave_no_line(
    live_server: ServerHandle, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert b" 400 Bad Request" in exchange(live_server.url, UNREADABLE[1])
        time.sleep(0.1)
    assert not [r for r in caplog.records if r.name == "aiohttp.server"]
