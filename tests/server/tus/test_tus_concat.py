"""The concatenation and concatenation-unfinished extensions."""

from __future__ import annotations

import asyncio
import hashlib

from toolbox_uploader.server import keys
from toolbox_uploader.server.storage import Storage
from toolbox_uploader.server.tus.state import STATE

TUS = "/api/v1/storage/tus/"


def split3(payload: bytes) -> list[bytes]:
    third = len(payload) // 3
    return [payload[:third], payload[third:2 * third], payload[2 * third:]]


async def test_three_partial_uploads_make_one_file(tus, data_dir) -> None:
    payload = tus.text(3 * 1024 * 1024 + 17)
    partials = []
    for piece in split3(payload):
        url = await tus.create(len(piece), {}, Upload_Concat="partial")
        head = await tus.head(url)
        assert head.headers["Upload-Concat"] == "partial"
        await tus.patch(url, 0, piece)  # a finished partial is not stored as a file
        assert tus.client.app[keys.DATABASE].fetchone(
            "SELECT 1 FROM files WHERE id = ?", (tus.upload_id(url),)) is None
        partials.append(url)
    meta = {"filename": "joined.txt", "sha256": hashlib.sha256(payload).hexdigest()}
    resp = await tus.client.post(TUS, headers=tus.headers({
        "Upload-Concat": "final;" + " ".join(partials),
        "Upload-Metadata": tus.metadata(meta)}))
    assert resp.status == 201, await resp.text()
    final = tus.rel(resp.headers["Location"])
    stored = Storage(data_dir).file_path(tus.upload_id(final))
    assert stored.read_bytes() == payload
    head = await tus.head(final)
    assert head.headers["Upload-Offset"] == head.headers["Upload-Length"] == str(len(payload))
    assert head.headers["Upload-Concat"].startswith("final;")
    assert all(tus.upload_id(p) in head.headers["Upload-Concat"] for p in partials)
    for url in partials:  # the partials are cleaned up
        await tus.head(url, expect=404)
        assert not Storage(data_dir).upload_path(tus.upload_id(url)).exists()
    row = tus.client.app[keys.DATABASE].fetchone(
        "SELECT filename, size, sha256 FROM files WHERE id = ?", (tus.upload_id(final),))
    assert (row["filename"], row["size"]) == ("joined.txt", len(payload))
    assert row["sha256"] == meta["sha256"]


async def test_unfinished_concatenation_completes_with_the_last_partial(tus, data_dir) -> None:
    payload = tus.text(9000)
    pieces = split3(payload)
    partials = [await tus.create(len(p), {}, Upload_Concat="partial") for p in pieces]
    partials.append(await tus.create(None, {}, Upload_Concat="partial"))  # deferred length
    pieces.append(b"THE END\n")
    payload += pieces[-1]
    await tus.patch(partials[0], 0, pieces[0])
    resp = await tus.client.post(TUS, headers=tus.headers({
        "Upload-Concat": "final;" + " ".join(partials),
        "Upload-Metadata": tus.metadata({"filename": "later.txt"})}))
    assert resp.status == 201
    final = tus.rel(resp.headers["Location"])
    head = await tus.head(final)
    assert "Upload-Offset" not in head.headers  # not finished yet
    assert "Upload-Length" not in head.headers  # one partial's length is unknown
    await tus.patch(final, 0, b"x", expect=403)  # nobody writes to a final upload
    await tus.patch(partials[2], 0, pieces[2])
    await tus.patch(partials[1], 0, pieces[1][:10])
    await tus.patch(partials[1], 10, pieces[1][10:])
    assert not Storage(data_dir).file_path(tus.upload_id(final)).exists()
    await tus.patch(partials[3], 0, pieces[3], Upload_Length=str(len(pieces[3])))
    assert Storage(data_dir).file_path(tus.upload_id(final)).read_bytes() == payload
    head = await tus.head(final)
    assert head.headers["Upload-Offset"] == str(len(payload))


async def test_invalid_final_uploads_are_400(tus) -> None:
    single = await tus.create(10)
    partial = await tus.create(10, {}, Upload_Concat="partial")
    for concat in (
        f"final;{single}",  # not a partial upload
        "final;",
        "final;http://elsewhere.example/files/" + "a" * 32,
        f"final;{TUS}{'0' * 32}",  # no such upload
        f"final;{partial} {partial}",
        "partial;x",
        "whatever",
    ):
        resp = await tus.client.post(TUS, headers=tus.headers({"Upload-Concat": concat}))
        assert resp.status == 400, concat
        assert (await resp.json())["error"] == "invalid_concat"
    resp = await tus.client.post(TUS, headers=tus.headers(
        {"Upload-Concat": f"final;{partial}", "Upload-Length": "10"}))
    assert resp.status == 400
    resp = await tus.client.post(TUS, headers=tus.headers({"Upload-Concat": f"final;{partial}"}))
    assert resp.status == 201
    # a partial belongs to one final upload only
    resp = await tus.client.post(TUS, headers=tus.headers({"Upload-Concat": f"final;{partial}"}))
    assert resp.status == 400


async def test_final_upload_over_the_category_limit_is_413(tus) -> None:
    parts = [await tus.create(6 * 1024 * 1024, {}, Upload_Concat="partial") for _ in range(2)]
    resp = await tus.client.post(TUS, headers=tus.headers({
        "Upload-Concat": "final;" + " ".join(parts),
        "Upload-Metadata": tus.metadata({"category": "avatar"})}))
    assert resp.status == 413


async def test_terminated_partial_fails_the_final_upload(tus) -> None:
    a = await tus.create(5, {}, Upload_Concat="partial")
    b = await tus.create(5, {}, Upload_Concat="partial")
    resp = await tus.client.post(TUS, headers=tus.headers({"Upload-Concat": f"final;{a} {b}"}))
    final = tus.rel(resp.headers["Location"])
    resp = await tus.client.delete(b, headers=tus.headers())
    assert resp.status == 204
    await tus.patch(a, 0, b"hello")
    resp = await tus.head(final, expect=410)


async def one_part_done_one_waiting(tus) -> tuple[str, str, str]:
    """Partial ``a`` finished, partial ``b`` empty, and the final upload of both."""
    a = await tus.create(5, {}, Upload_Concat="partial")
    b = await tus.create(5, {}, Upload_Concat="partial")
    await tus.patch(a, 0, b"hello")
    resp = await tus.client.post(TUS, headers=tus.headers({"Upload-Concat": f"final;{a} {b}"}))
    assert resp.status == 201, await resp.text()
    return a, b, tus.rel(resp.headers["Location"])


async def test_a_terminated_partial_fails_its_final_at_once_and_frees_the_others(tus) -> None:
    a, b, final = await one_part_done_one_waiting(tus)
    assert (await tus.client.delete(b, headers=tus.headers())).status == 204
    await tus.head(final, expect=410)  # not only when another part finishes
    c = await tus.create(3, {}, Upload_Concat="partial")
    await tus.patch(c, 0, b"!!!")
    resp = await tus.client.post(TUS, headers=tus.headers({"Upload-Concat": f"final;{a} {c}"}))
    assert resp.status == 201, await resp.text()  # ``a`` is free to be joined again
    head = await tus.head(tus.rel(resp.headers["Location"]))
    assert head.headers["Upload-Offset"] == "8"


async def test_a_partial_being_joined_cannot_be_terminated(tus) -> None:
    a, _b, final = await one_part_done_one_waiting(tus)
    final_id = tus.upload_id(final)
    # While the final upload is being assembled (its lock held), its parts stay.
    async with tus.client.app[STATE].exclusive(final_id):
        resp = await tus.client.delete(a, headers=tus.headers())
        assert resp.status == 423
        assert (await resp.json())["error"] == "upload_locked"
    assert (await tus.head(a)).headers["Upload-Offset"] == "5"


async def test_partials_finishing_together_complete_the_final_once(tus, data_dir) -> None:
    pieces = [tus.text(200_000), tus.text(150_000)[::-1], tus.text(100_000)]
    partials = [await tus.create(len(p), {}, Upload_Concat="partial") for p in pieces]
    resp = await tus.client.post(TUS, headers=tus.headers(
        {"Upload-Concat": "final;" + " ".join(partials)}))
    final = tus.rel(resp.headers["Location"])
    await asyncio.gather(*(tus.patch(u, 0, p) for u, p in zip(partials, pieces, strict=True)))
    assert Storage(data_dir).file_path(tus.upload_id(final)).read_bytes() == b"".join(pieces)
    rows = tus.client.app[keys.DATABASE].fetchall("SELECT id FROM files")
    assert [r["id"] for r in rows] == [tus.upload_id(final)]
