"""Uploads running side by side share one quota: what one is told it may send, it can store.

Bytes without a declared length (a deferred-length tus body, a form upload) are held
against the quota as they arrive, so parallel requests do not each see the same free
room; a final upload counts once its parts are joined into it; and the server's size
limit holds for a final whose parts' lengths were deferred."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from toolbox_uploader.server import keys
from toolbox_uploader.server.tus.store import RECEIVING

if TYPE_CHECKING:
    from tests.server.tus.conftest import Tus

QUOTA = 2_000_000


def _account(tus: Tus, name: str, quota: int | None = QUOTA) -> Tus:
    _account, token = tus.client.app[keys.ACCOUNTS].create(name, quota_bytes=quota)
    return type(tus)(tus.client, token)


async def _slowly(data: bytes, piece: int = 100_000, pause: float = 0.05) -> AsyncIterator[bytes]:
    for at in range(0, len(data), piece):
        yield data[at:at + piece]
        await asyncio.sleep(pause)


async def _final(tus: Tus, parts: list[str], name: str) -> str:
    resp = await tus.client.post(tus.TUS, headers=tus.headers({
        "Upload-Concat": "final;" + " ".join(parts),
        "Upload-Metadata": tus.metadata({"filename": name, "category": "temporary"})}))
    assert resp.status == 201, await resp.text()
    return tus.rel(resp.headers["Location"])


async def _usage(tus: Tus) -> dict:
    return await (await tus.client.get("/api/v1/quota", headers=tus.headers())).json()


async def test_parallel_deferred_bodies_cannot_overfill_the_quota(tus: Tus) -> None:
    """Three bodies of 900 KB against 2 MB, side by side: each may be cut where the room
    ran out, and every byte any of them was told was kept can be stored."""
    small = _account(tus, "parallel")
    urls = [await small.create(None, {"filename": f"q{n}.txt", "category": "temporary"})
            for n in range(3)]
    data = [small.text(900_000 - n) for n in range(3)]
    answers = await asyncio.gather(*[
        small.patch(url, 0, _slowly(body), expect=None)  # type: ignore[arg-type]
        for url, body in zip(urls, data, strict=True)])
    assert {a.status for a in answers} <= {204, 413} and 413 in {a.status for a in answers}
    offsets = [int((await small.head(url)).headers["Upload-Offset"]) for url in urls]
    assert sum(offsets) <= QUOTA
    for answer, offset in zip(answers, offsets, strict=True):
        if answer.status == 413:
            body = await answer.json()
            assert body["error"] == "quota_exceeded"
            assert f"{offset} bytes are kept" in body["message"]
    for url, offset in zip(urls, offsets, strict=True):  # each ends where it was cut
        await small.patch(url, offset, b"", Upload_Length=str(offset))
    usage = await _usage(small)
    assert (usage["used"], usage["reserved"]) == (sum(offsets), 0)


async def test_a_form_upload_in_progress_holds_its_bytes(tus: Tus) -> None:
    small = _account(tus, "former")
    data = small.text(1_500_000)
    boundary = "Z"

    async def form() -> AsyncIterator[bytes]:
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"category\"\r\n\r\n"
               f"temporary\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
               "filename=\"rest.txt\"\r\n\r\n").encode()
        async for piece in _slowly(data, pause=0.1):
            yield piece
        yield f"\r\n--{boundary}--\r\n".encode()

    async def meanwhile() -> tuple[int, int]:
        reserved = 0
        for _ in range(50):  # at most 5 s: until the form has brought 600 KB
            await asyncio.sleep(0.1)
            reserved = (await _usage(small))["reserved"]
            if reserved >= 600_000:
                break
        # 1.5 MB no longer fit beside what the form has brought.
        resp = await small.client.post(tus.TUS, headers=small.headers({
            "Upload-Length": "1500000", "Upload-Metadata": small.metadata(
                {"filename": "t.txt", "category": "temporary"})}))
        return reserved, resp.status

    rest, (reserved, created) = await asyncio.gather(
        small.client.post("/api/v1/files/upload", data=form(), headers=small.headers(
            {"Content-Type": f"multipart/form-data; boundary={boundary}"})),
        meanwhile())
    assert rest.status == 201, await rest.text()
    assert reserved >= 600_000  # the bytes the form had brought
    assert created == 413
    usage = await _usage(small)
    assert (usage["used"], usage["reserved"]) == (len(data), 0)


async def test_a_form_upload_that_would_overfill_is_refused_and_lets_go(tus: Tus) -> None:
    small = _account(tus, "formfull", quota=1_000_000)
    data = small.text(1_200_000)
    body = (b"--Z\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.txt\"\r\n\r\n"
            + data + b"\r\n--Z--\r\n")
    resp = await small.client.post("/api/v1/files/upload", data=body, headers=small.headers(
        {"Content-Type": "multipart/form-data; boundary=Z"}))
    assert resp.status == 413 and (await resp.json())["error"] == "quota_exceeded"
    assert await _usage(small) == {**await _usage(small), "used": 0, "reserved": 0}


async def test_a_final_upload_counts_once_its_parts_are_joined(tus: Tus) -> None:
    small = _account(tus, "joiner")
    account = tus.client.app[keys.ACCOUNTS].by_name("joiner")
    assert account is not None
    parts = [await small.create(len(body), {}, Upload_Concat="partial")
             for body in (small.text(600), small.text(400))]
    final = await _final(small, parts, "f.txt")
    assert (await _usage(small))["reserved"] == 1000  # the parts
    # The moment between joining and storing: the final holds the bytes, the parts are gone.
    db = tus.client.app[keys.DATABASE]
    db.execute("UPDATE uploads SET offset = 1000, length = 1000 WHERE id = ?",
               (tus.upload_id(final),))
    db.execute("DELETE FROM uploads WHERE id IN (?, ?)",
               tuple(tus.upload_id(p) for p in parts))
    row = db.fetchone("SELECT status FROM uploads WHERE id = ?", (tus.upload_id(final),))
    assert row is not None and row[0] == RECEIVING
    assert tus.client.app[keys.ACCOUNTS].usage(account).reserved == 1000


async def test_the_server_limit_holds_for_parts_of_deferred_length(tus: Tus) -> None:
    tus.client.app[keys.CONFIG].max_size = 1000
    parts = [await tus.create(None, {}, Upload_Concat="partial") for _ in range(3)]
    final = await _final(tus, parts, "big.txt")
    for part in parts:  # each partial is within the limit; the last one completes the final
        await tus.patch(part, 0, tus.text(900), Upload_Length="900")
    assert (await tus.head(final, expect=None)).status == 410
    row = tus.client.app[keys.DATABASE].fetchone(
        "SELECT status, failure FROM uploads WHERE id = ?", (tus.upload_id(final),))
    assert row is not None and row[0] == "failed"
    assert "too_large" in row[1] and "2.7 kB" in row[1]
    for part in parts:  # nothing is left reserving room
        assert (await tus.head(part, expect=None)).status == 404
