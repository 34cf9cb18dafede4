"""Metadata text follows the same rules over tus as over the multipart upload:
free text (the description) keeps line breaks and tabs, names stay strict."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.server.tus.conftest import Tus

BOUNDARY = "metadataTextBoundary"


def _multipart(fields: dict[str, str], content: bytes) -> bytes:
    out = b""
    for name, value in fields.items():
        out += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                f"{value}\r\n").encode()
    out += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            'filename="m.txt"\r\n\r\n').encode() + content + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


async def _via_tus(tus: Tus, fields: dict[str, str], content: bytes) -> tuple[int, dict]:
    resp = await tus.client.post(tus.TUS, data=content, headers=tus.headers({
        "Upload-Length": str(len(content)), "Content-Type": tus.OCTET,
        "Upload-Metadata": tus.metadata({"filename": "m.txt", "category": "temporary",
                                         **fields})}))
    if resp.status != 201:
        return resp.status, await resp.json()
    record = await tus.client.get(f"/api/v1/files/{tus.upload_id(resp.headers['Location'])}",
                                  headers=tus.headers())
    return resp.status, await record.json()


async def _via_multipart(tus: Tus, fields: dict[str, str], content: bytes) -> tuple[int, dict]:
    resp = await tus.client.post(
        "/api/v1/files/upload", data=_multipart({"category": "temporary", **fields}, content),
        headers={"Authorization": f"Bearer {tus.token}",
                 "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    return resp.status, await resp.json()


@pytest.mark.parametrize(("fields", "stored"), [
    ({"description": "Line one\nLine two\ttabbed"}, "Line one\nLine two\ttabbed"),
    ({"description": "bell\x07"}, None),
    ({"title": "two\nlines"}, None),
])
async def test_both_paths_treat_text_alike(tus: Tus, fields: dict[str, str],
                                           stored: str | None) -> None:
    answers = []
    for index, send in enumerate((_via_tus, _via_multipart)):
        status, body = await send(tus, fields, tus.text(100 + index))
        answers.append(status)
        if stored is not None:
            assert status == 201, body
            assert body["description"] == stored
        else:
            assert status == 400, body
    assert answers[0] == answers[1]
