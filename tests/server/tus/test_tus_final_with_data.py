"""A final upload (concatenation) is made of its partial uploads only: data sent with its
creation was answered 201 and dropped without a word."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from toolbox_uploader.server.storage import Storage

TUS = "/api/v1/storage/tus/"


async def _chunked(data: bytes) -> AsyncIterator[bytes]:
    yield data


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_final_creation_with_data_is_refused_and_makes_nothing(
        tus, data_dir, chunked: bool) -> None:
    part = await tus.create(3, {}, Upload_Concat="partial")
    await tus.patch(part, 0, b"abc")
    extra = b"more lines the teacher meant to send\n"
    resp = await tus.client.post(TUS, data=_chunked(extra) if chunked else extra,
                                 headers=tus.headers({
                                     "Upload-Concat": f"final;{part}",
                                     "Content-Type": tus.OCTET,
                                     "Upload-Metadata": tus.metadata({"filename": "j.txt"}),
                                 }))
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["error"] == "invalid_concat"
    assert "Location" not in resp.headers
    # The partial is still free for a final upload sent the right way.
    resp = await tus.client.post(TUS, headers=tus.headers({
        "Upload-Concat": f"final;{part}",
        "Upload-Metadata": tus.metadata({"filename": "j.txt"})}))
    assert resp.status == 201, await resp.text()
    final = tus.upload_id(tus.rel(resp.headers["Location"]))
    assert Storage(data_dir).file_path(final).read_bytes() == b"abc"
