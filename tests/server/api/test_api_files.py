"""Listing, reading, downloading (with Range) and deleting stored files; isolation; auth."""

from __future__ import annotations

import hashlib
from urllib.parse import unquote

from _api_support import MULTIPART_TYPE, Api, bearer, error_of, multipart, png_bytes

from tests.support.payloads import blob
from toolbox_uploader.server import keys
from toolbox_uploader.server.api.files import content_disposition


async def test_list_paginates_and_filters_by_category(api: Api) -> None:
    for n in range(5):
        await api.stored(f"note {n}\n".encode(), f"n{n}.txt", category="report")
    await api.stored(png_bytes(), "pic.png", category="media_resource")

    r = await api.client.get("/api/v1/files?limit=2&offset=1", headers=api.headers)
    body = await r.json()
    assert r.status == 200
    assert (body["total"], body["limit"], body["offset"], len(body["files"])) == (6, 2, 1, 2)

    r = await api.client.get("/api/v1/files?category=report&limit=10", headers=api.headers)
    body = await r.json()
    assert body["total"] == 5 and {f["category"] for f in body["files"]} == {"report"}
    names = [f["filename"] for f in body["files"]]
    assert sorted(names) == [f"n{n}.txt" for n in range(5)]

    r = await api.client.get("/api/v1/files?offset=100", headers=api.headers)
    body = await r.json()
    assert body["total"] == 6 and body["files"] == []


async def test_list_finds_the_copies_of_one_file(api: Api) -> None:
    """``sha256`` and ``relative_path`` narrow the list (the engine's "did it arrive?")."""
    same = b"the water cycle\n"
    first = await api.stored(same, "cycle.txt", relative_path="Science/Week 1/cycle.txt")
    await api.stored(same, "cycle.txt", relative_path="Science/Week 2/cycle.txt")
    await api.stored(b"something else\n", "cycle.txt", relative_path="Science/Week 1/cycle.txt")
    digest = hashlib.sha256(same).hexdigest()

    r = await api.client.get("/api/v1/files", headers=api.headers, params={
        "sha256": digest.upper(), "relative_path": "Science\\Week 1/./cycle.txt"})
    body = await r.json()
    assert r.status == 200 and body["total"] == 1
    assert body["files"][0]["id"] == first["id"]

    r = await api.client.get("/api/v1/files", headers=api.headers, params={"sha256": digest})
    assert (await r.json())["total"] == 2
    r = await api.client.get("/api/v1/files", headers=api.headers, params={
        "sha256": "0" * 64, "relative_path": "Science/Week 1/cycle.txt"})
    assert (await r.json())["total"] == 0
    # Another account's copy is not found.
    other = bearer(api.other_token)
    r = await api.client.get("/api/v1/files", headers=other, params={"sha256": digest})
    assert (await r.json())["total"] == 0

    for bad in ("abc", "g" * 64, "0" * 63, "0" * 65):
        r = await api.client.get("/api/v1/files", headers=api.headers, params={"sha256": bad})
        assert r.status == 400, bad
        assert error_of(await r.json()) == "invalid_field"
    r = await api.client.get("/api/v1/files", headers=api.headers,
                             params={"relative_path": "bad\u202epath"})
    assert r.status == 400 and error_of(await r.json()) == "invalid_field"


async def test_bad_query_values_are_400(api: Api) -> None:
    for query in ("limit=0", "limit=501", "limit=-1", "limit=abc", "limit=1e3", "offset=-5",
                  "offset=99999999999999999999", "limit=+5", "category=homework",
                  "limit=%00"):
        r = await api.client.get(f"/api/v1/files?{query}", headers=api.headers)
        assert r.status == 400, query
        assert error_of(await r.json()) in ("invalid_parameter", "unknown_category")


async def test_get_record_and_unknown_ids(api: Api) -> None:
    stored = await api.stored(b"hello\n", "hello.txt", title="Greeting", tags='["a","b"]')
    r = await api.client.get(f"/api/v1/files/{stored['id']}", headers=api.headers)
    body = await r.json()
    assert body == stored
    assert body["title"] == "Greeting" and body["tags"] == ["a", "b"]
    assert body["sha256"] == hashlib.sha256(b"hello\n").hexdigest()
    assert "owner" not in body
    for bad in ("0" * 32, "x" * 32, "..%2f..%2fetc", "ABCDEF" + "0" * 26, stored["id"] + "0"):
        r = await api.client.get(f"/api/v1/files/{bad}", headers=api.headers)
        assert r.status == 404, bad
        assert error_of(await r.json()) == "not_found"


async def test_accounts_are_isolated(api: Api) -> None:
    mine = await api.stored(b"teacher's notes\n")
    other = bearer(api.other_token)
    for method, suffix in (("GET", ""), ("GET", "/content"), ("DELETE", "")):
        r = await api.client.request(method, f"/api/v1/files/{mine['id']}{suffix}", headers=other)
        assert r.status == 404
        assert error_of(await r.json()) == "not_found"
    r = await api.client.get("/api/v1/files", headers=other)
    assert (await r.json())["total"] == 0
    r = await api.client.get(f"/api/v1/files/{mine['id']}", headers=api.headers)
    assert r.status == 200  # still there after the other account's DELETE


async def test_requests_without_a_valid_token_are_401(api: Api) -> None:
    stored = await api.stored(b"x\n")
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": api.token},
                    {"Authorization": f"Basic {api.token}"}, {"Authorization": "Bearer "}):
        for method, path in (("GET", "/api/v1/files"), ("GET", "/api/v1/quota"),
                             ("GET", f"/api/v1/files/{stored['id']}/content"),
                             ("DELETE", f"/api/v1/files/{stored['id']}"),
                             ("POST", "/api/v1/files/upload")):
            r = await api.client.request(method, path, headers=headers)
            assert r.status == 401, (method, path, headers)
            assert error_of(await r.json()) == "unauthorized"
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
    # ?token= is for WebSockets only.
    r = await api.client.get(f"/api/v1/files?token={api.token}")
    assert r.status == 401


async def test_download_whole_and_ranges(api: Api) -> None:
    data = blob(100_000)
    stored = await api.stored(data, "blob.bin", category="temporary")
    url = f"/api/v1/files/{stored['id']}/content"

    r = await api.client.get(url, headers=api.headers)
    assert r.status == 200 and await r.read() == data
    assert r.headers["Accept-Ranges"] == "bytes"

    r = await api.client.get(url, headers={**api.headers, "Range": "bytes=10-19"})
    assert r.status == 206 and await r.read() == data[10:20]
    assert r.headers["Content-Range"] == "bytes 10-19/100000"

    r = await api.client.get(url, headers={**api.headers, "Range": "bytes=-100"})
    assert r.status == 206 and await r.read() == data[-100:]

    r = await api.client.get(url, headers={**api.headers, "Range": "bytes=99990-"})
    assert r.status == 206 and await r.read() == data[99990:]

    for bad in ("bytes=100000-", "bytes=200000-200010", "bytes=-0"):
        r = await api.client.get(url, headers={**api.headers, "Range": bad})
        assert r.status == 416, bad
        assert r.headers["Content-Range"] == "bytes */100000"
        assert error_of(await r.json()) == "range_not_satisfiable"

    # RFC 9110: an unknown unit must be ignored; several ranges, an invalid one, or an
    # unsatisfiable one under If-Range may be: the whole file is the answer.
    etag = (await api.client.head(url, headers=api.headers)).headers["ETag"]
    for ignored, more in (("items=0-1", {}), ("bytes=0-1,5-6", {}), ("bytes=x-y", {}),
                          ("bytes=5-1", {}), ("bytes=999999999-", {"If-Range": etag})):
        r = await api.client.get(url, headers={**api.headers, "Range": ignored, **more})
        assert r.status == 200, ignored
        assert await r.read() == data
    r = await api.client.get(url, headers={**api.headers, "Range": "bytes=0-9", "If-Range": etag})
    assert r.status == 206 and await r.read() == data[:10]

    r = await api.client.head(url, headers=api.headers)
    assert r.status == 200 and r.headers["Content-Length"] == "100000"


async def test_download_headers_never_let_content_or_names_act(api: Api) -> None:
    page = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>\n"
    r = await api.client.post(
        "/api/v1/files/upload",
        data=multipart(("category", None, b"temporary"),  # the one area that keeps scripts
                       ("file", "*=UTF-8''evil%22%3B%20x%3D1.html", page)),
        headers={**api.headers, "Content-Type": MULTIPART_TYPE},
    )
    stored = await r.json()
    assert r.status == 201, stored
    assert stored["filename"] == 'evil"; x=1.html'
    assert stored["mime_type"] == "text/html"
    r = await api.client.get(f"/api/v1/files/{stored['id']}/content", headers=api.headers)
    assert await r.read() == page
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in r.headers["Content-Security-Policy"]
    disposition = r.headers["Content-Disposition"]
    assert disposition == (
        "attachment; filename=\"evil__ x=1.html\"; filename*=UTF-8''evil%22%3B%20x%3D1.html"
    )

    unicode_name = await api.stored(b"text\n", "Übung – Brüche.txt")
    r = await api.client.get(f"/api/v1/files/{unicode_name['id']}/content", headers=api.headers)
    assert r.headers["Content-Type"].startswith("text/plain")
    assert "filename*=UTF-8''%C3%9Cbung%20%E2%80%93%20Br%C3%BCche.txt" in (
        r.headers["Content-Disposition"]
    )


async def test_delete_removes_row_and_bytes(api: Api) -> None:
    stored = await api.stored(b"to be removed\n")
    bytes_path = api.app[keys.STORAGE].file_path(stored["id"])
    assert bytes_path.is_file()
    r = await api.client.delete(f"/api/v1/files/{stored['id']}", headers=api.headers)
    assert r.status == 204
    assert not bytes_path.exists()
    r = await api.client.get(f"/api/v1/files/{stored['id']}", headers=api.headers)
    assert r.status == 404
    r = await api.client.delete(f"/api/v1/files/{stored['id']}", headers=api.headers)
    assert r.status == 404
    r = await api.client.get("/api/v1/quota", headers=api.headers)
    assert (await r.json())["used"] == 0


def test_content_disposition_cannot_carry_a_header_whatever_the_stored_name() -> None:
    """Names may reach the database by tus metadata too; the header must be safe anyway."""
    for name in ("a\r\nSet-Cookie: x=1.txt", 'x";filename="evil.exe', "\x00\x7f\u2028.pdf",
                 "", "%41%0D%0A.txt", "ä" * 300):
        value = content_disposition(name)
        assert value.isascii() and value.isprintable(), value
        fallback = value.split('filename="', 1)[1].split('"', 1)[0]
        assert value.count('"') == 2 and ";" not in fallback and "%" not in fallback
        encoded = value.split("filename*=UTF-8''", 1)[1]
        assert unquote(encoded) == name
