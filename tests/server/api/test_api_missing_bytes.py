"""A stored file whose bytes were deleted behind the server's back (a clean-up of the data
folder, a restored backup). Its download was already a 410, but the listing showed it as
``available`` and, worse, ``GET /api/v1/files?sha256=&relative_path=`` answered with it:
the upload engine asks exactly that to learn whether a file it lost track of arrived,
and would have skipped sending a file the server no longer has."""

from __future__ import annotations

import hashlib

from _api_support import Api

from toolbox_uploader.server import keys

CONTENT = b"Fractions worksheet page one. Add the two halves.\n" * 20


async def _json(api: Api, path: str, **query: str) -> dict:
    response = await api.client.get(path, params=query, headers=api.headers)
    body = await response.json()
    assert response.status == 200, body
    return body


async def test_a_file_without_its_bytes_is_marked_and_not_found_by_content(api: Api) -> None:
    stored = await api.stored(CONTENT, relative_path="maths/fractions.txt")
    kept = await api.stored(b"another file\n", relative_path="maths/other.txt")
    api.app[keys.STORAGE].file_path(stored["id"]).unlink()
    listing = await _json(api, "/api/v1/files")
    status = {f["id"]: f["status"] for f in listing["files"]}
    assert status == {stored["id"]: "missing", kept["id"]: "available"}  # the admin sees it
    assert listing["total"] == 2
    record = await _json(api, f"/api/v1/files/{stored['id']}")
    assert record["status"] == "missing"
    sha256 = hashlib.sha256(CONTENT).hexdigest()
    found = await _json(api, "/api/v1/files", sha256=sha256,
                        relative_path="maths/fractions.txt", limit="1")
    assert (found["files"], found["total"]) == ([], 0)  # the client sends it again
    again = await api.stored(CONTENT, relative_path="maths/fractions.txt")
    found = await _json(api, "/api/v1/files", sha256=sha256,
                        relative_path="maths/fractions.txt", limit="1")
    assert [f["id"] for f in found["files"]] == [again["id"]] and found["total"] == 1
    assert found["files"][0]["status"] == "available"


async def test_content_look_ups_page_over_the_copies_that_are_there(api: Api) -> None:
    ids = [(await api.stored(CONTENT, relative_path=f"copy{n}.txt"))["id"] for n in range(3)]
    api.app[keys.STORAGE].file_path(ids[1]).unlink()
    sha256 = hashlib.sha256(CONTENT).hexdigest()
    first = await _json(api, "/api/v1/files", sha256=sha256, limit="1")
    second = await _json(api, "/api/v1/files", sha256=sha256, limit="1", offset="1")
    assert first["total"] == second["total"] == 2
    assert {first["files"][0]["id"], second["files"][0]["id"]} == {ids[0], ids[2]}
