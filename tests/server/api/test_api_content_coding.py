"""A compressed form is refused (415) before a byte of it is inflated.

aiohttp inflates a ``Content-Encoding: gzip`` body as it arrives: a 4 MB batch of
zeros made the server inflate, write and hash 4 GB (12 s of CPU) before answering. The
refusal also closes the connection, or aiohttp would inflate the unread body anyway
while keeping the connection alive.
"""

from __future__ import annotations

import gzip
import zlib

import pytest
from _api_support import MULTIPART_TYPE, Api, error_of, multipart

FORM = multipart(("category", None, b"temporary"),
                 ("file", "notes.txt", b"A line of plain text for the worksheet.\n" * 20))


@pytest.mark.parametrize("path, form", [
    ("/api/v1/files/upload", FORM),
    ("/api/v1/files/upload/batch", multipart(
        ("manifest", None, b'[{"category": "temporary"}]'),
        ("files", "notes.txt", b"A line of plain text for the worksheet.\n" * 20))),
])
@pytest.mark.parametrize("coding, pack", [
    ("gzip", gzip.compress), ("deflate", zlib.compress), ("identity, gzip", gzip.compress),
])
async def test_a_compressed_form_is_refused_and_stores_nothing(
    api: Api, path: str, form: bytes, coding: str, pack
) -> None:
    resp = await api.client.post(path, data=pack(form), headers={
        **api.headers, "Content-Type": MULTIPART_TYPE, "Content-Encoding": coding,
    })
    assert resp.status == 415, await resp.text()
    assert error_of(await resp.json()) == "unsupported_encoding"
    assert resp.headers["Accept-Encoding"] == "identity"
    assert resp.headers.get("Connection", "").lower() == "close"
    listing = await api.client.get("/api/v1/files", headers=api.headers)
    assert (await listing.json())["total"] == 0


async def test_identity_is_no_encoding(api: Api) -> None:
    resp = await api.client.post("/api/v1/files/upload", data=FORM, headers={
        **api.headers, "Content-Type": MULTIPART_TYPE, "Content-Encoding": "identity",
    })
    assert resp.status == 201, await resp.text()
