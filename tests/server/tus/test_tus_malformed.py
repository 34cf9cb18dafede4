"""No request, however malformed, makes the tus endpoint answer 500."""

from __future__ import annotations

import pytest

TUS = "/api/v1/storage/tus/"

ODD_HEADERS = [
    {"Upload-Length": "\u00b2"},
    {"Upload-Length": "1" * 400},
    {"Upload-Offset": "-0"},
    {"Upload-Metadata": "=" * 50},
    {"Upload-Metadata": "filename " + "A" * 4001},
    {"Upload-Metadata": " , , "},
    {"Upload-Metadata": "filename //8="},  # base64 of bytes that are not UTF-8
    {"Upload-Metadata": "category //8="},
    {"Upload-Metadata": "sha256 eHl6"},
    {"Upload-Concat": "final;" + "http://[::1" + "/x"},
    {"Upload-Concat": "final;%%%"},
    {"Upload-Checksum": "sha256"},
    {"Upload-Checksum": "SHA1 " + "A" * 28},
    {"Upload-Defer-Length": "yes"},
    {"Content-Type": "application/offset+octet-stream; charset=\u00e9"},
    {"X-HTTP-Method-Override": "\u00e9"},
    {"Tus-Resumable": "1.0.0, 1.0.0"},
]


@pytest.mark.parametrize("method", ["POST", "PATCH", "HEAD", "DELETE", "OPTIONS", "GET", "PUT"])
@pytest.mark.parametrize("index", range(len(ODD_HEADERS)))
async def test_odd_requests_get_clear_errors(tus, method, index) -> None:
    url = await tus.create(10)
    for target in (TUS, url, TUS + "x" * 32):
        headers = tus.headers({"Upload-Length": "10", "Upload-Offset": "0",
                               "Content-Type": tus.OCTET})
        headers.update(ODD_HEADERS[index])
        resp = await tus.client.request(method, target, headers=headers, data=b"abc")
        assert resp.status < 500, (method, target, ODD_HEADERS[index], await resp.text())
        if resp.status >= 400 and method != "HEAD":
            body = await resp.json()
            assert set(body) == {"error", "message"}
