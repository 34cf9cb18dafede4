"""tus data is sent as it is: a ``Content-Encoding`` or the wrong ``Content-Type`` is a 415.

aiohttp decodes a gzip body before the handler sees it, so the server used to count the
decoded bytes while the client counted the ones it sent; resuming from the server's
offset then spliced compressed bytes onto decoded ones and stored the mix as complete.
A creation request whose chunked body came with the wrong type was answered 201 with the
data dropped, where the same body with a ``Content-Length`` was a 415.
"""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator

from conftest import Tus


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    """A body of unknown length: aiohttp's client sends it chunked."""
    for start in range(0, len(data), 7):
        yield data[start:start + 7]


async def test_a_compressed_patch_is_refused_and_keeps_the_offset(tus: Tus) -> None:
    data = tus.text(3000)
    url = await tus.create(len(data))
    packed = gzip.compress(data[:2000])
    resp = await tus.patch(url, 0, packed, expect=415, Content_Encoding="gzip")
    assert (await resp.json())["error"] == "unsupported_encoding"
    assert resp.headers["Accept-Encoding"] == "identity"
    assert resp.headers.get("Connection", "").lower() == "close"  # the body is not inflated
    assert (await tus.head(url)).headers["Upload-Offset"] == "0"
    await tus.patch(url, 0, data[:1000], Content_Encoding="identity")
    await tus.patch(url, 1000, data[1000:])
    stored = await tus.client.get(f"/api/v1/files/{tus.upload_id(url)}/content",
                                  headers=tus.headers())
    assert stored.status == 200
    assert await stored.read() == data


async def test_a_compressed_creation_with_upload_creates_nothing(tus: Tus) -> None:
    data = tus.text(500)
    packed = gzip.compress(data)
    resp = await tus.client.post(tus.TUS, data=packed, headers=tus.headers({
        "Upload-Length": str(len(packed)), "Content-Type": tus.OCTET,
        "Content-Encoding": "gzip", "Upload-Metadata": tus.metadata({"filename": "a.txt"}),
    }))
    assert resp.status == 415
    assert (await resp.json())["error"] == "unsupported_encoding"
    assert "Location" not in resp.headers
    quota = await tus.client.get("/api/v1/quota", headers=tus.headers())
    assert (await quota.json())["reserved"] == 0


async def test_a_chunked_creation_body_of_the_wrong_type_is_refused(tus: Tus) -> None:
    data = tus.text(100)
    for content_type in ("text/plain", None):
        headers = tus.headers({"Upload-Length": str(len(data)),
                               "Upload-Metadata": tus.metadata({"filename": "a.txt"})})
        if content_type is not None:
            headers["Content-Type"] = content_type
        resp = await tus.client.post(tus.TUS, data=_chunks(data), headers=headers)
        assert resp.status == 415, await resp.text()
        assert (await resp.json())["error"] == "unsupported_media_type"
    # The right type, chunked, is a creation with its data.
    resp = await tus.client.post(tus.TUS, data=_chunks(data), headers=tus.headers({
        "Upload-Length": str(len(data)), "Content-Type": tus.OCTET,
        "Upload-Metadata": tus.metadata({"filename": "a.txt"}),
    }))
    assert resp.status == 201, await resp.text()
    assert resp.headers["Upload-Offset"] == str(len(data))
