"""A tus header sent on several lines: one reading, never the first line by chance."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import pytest
from multidict import CIMultiDict

if TYPE_CHECKING:
    from tests.server.tus.conftest import Tus


def _repeated(tus: Tus, *pairs: tuple[str, str]) -> CIMultiDict[str]:
    headers = CIMultiDict(tus.headers())
    for name, value in pairs:
        headers.add(name, value)
    return headers


async def test_conflicting_offsets_and_lengths_are_400_and_nothing_moves(tus: Tus) -> None:
    url = await tus.create(10)
    resp = await tus.client.patch(url, data=b"hello", headers=_repeated(
        tus, ("Content-Type", tus.OCTET), ("Upload-Offset", "0"), ("Upload-Offset", "5")))
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["error"] == "invalid_header"
    assert (await tus.head(url)).headers["Upload-Offset"] == "0"

    resp = await tus.client.post(tus.TUS, headers=_repeated(
        tus, ("Upload-Length", "10"), ("Upload-Length", "20")))
    assert resp.status == 400
    assert "Location" not in resp.headers

    resp = await tus.client.post(url, headers=_repeated(
        tus, ("X-HTTP-Method-Override", "HEAD"), ("X-HTTP-Method-Override", "DELETE")))
    assert resp.status == 400
    assert (await tus.head(url)).status == 200

    # The same value twice says one thing: accepted.
    await tus.patch(url, 0, b"hello", Upload_Checksum="sha1 qvTGHdzF6KLavt4PO0gs2a6pQ00=")
    resp = await tus.client.patch(url, data=b"world", headers=_repeated(
        tus, ("Content-Type", tus.OCTET), ("Upload-Offset", "5"), ("Upload-Offset", "5")))
    assert resp.status == 204


async def test_metadata_on_several_lines_is_one_list(tus: Tus) -> None:
    def pair(key: str, value: str) -> str:
        return f"{key} {base64.b64encode(value.encode()).decode()}"

    data = tus.text(300)
    resp = await tus.client.post(tus.TUS, data=data, headers=_repeated(
        tus, ("Upload-Length", str(len(data))), ("Content-Type", tus.OCTET),
        ("Upload-Metadata", pair("filename", "plan.txt")),
        ("Upload-Metadata", f"{pair('category', 'report')},{pair('relativePath', 'y/plan.txt')}"),
    ))
    assert resp.status == 201, await resp.text()
    upload_id = tus.upload_id(resp.headers["Location"])
    stored = await tus.client.get(f"/api/v1/files/{upload_id}", headers=tus.headers())
    record = await stored.json()
    assert (record["filename"], record["category"], record["relative_path"]) == (
        "plan.txt", "report", "y/plan.txt")

    resp = await tus.client.post(tus.TUS, headers=_repeated(
        tus, ("Upload-Length", "5"), ("Upload-Metadata", pair("category", "report")),
        ("Upload-Metadata", pair("category", "avatar"))))
    assert resp.status == 400
    assert (await resp.json())["error"] == "invalid_metadata"


@pytest.mark.parametrize(("name", "second"), [
    ("Tus-Resumable", "0.2.2"), ("Authorization", "Bearer " + "x" * 43)])
async def test_other_repeated_headers_follow_the_same_rule(
    tus: Tus, name: str, second: str
) -> None:
    url = await tus.create(10)
    headers = CIMultiDict(tus.headers())
    headers.add(name, second)
    resp = await tus.client.head(url, headers=headers)
    assert resp.status == 400
    resp = await tus.client.delete(url, headers=headers)
    assert resp.status == 400
    assert (await resp.json())["error"] == "invalid_header"
    assert (await tus.head(url)).status == 200  # nothing was deleted


async def test_a_repeated_query_parameter_follows_the_same_rule(tus: Tus) -> None:
    resp = await tus.client.get("/api/v1/files?limit=1&limit=2", headers=tus.headers())
    assert resp.status == 400
    assert (await resp.json())["error"] == "invalid_parameter"
    resp = await tus.client.get("/api/v1/files?limit=2&limit=2", headers=tus.headers())
    assert resp.status == 200


async def test_data_for_a_completed_upload_is_refused_however_it_is_sent(tus: Tus) -> None:
    data = tus.text(10)
    url = await tus.create(len(data), {"filename": "done.txt", "category": "temporary"})
    await tus.patch(url, 0, data)

    async def chunked():
        yield b"more"

    for body in (b"more", chunked()):
        resp = await tus.patch(url, len(data), body, expect=400)
        assert (await resp.json())["error"] == "upload_complete"
    await tus.patch(url, len(data), b"")  # saying nothing is still fine
