"""Conditional downloads (``If-Match``, ``If-Unmodified-Since``): a failed condition is a
JSON error like every other, never an empty attachment."""

from __future__ import annotations

from _api_support import Api, error_of

from tests.support.payloads import blob


async def test_a_failed_precondition_is_a_json_412(api: Api) -> None:
    data = blob(5000)
    stored = await api.stored(data, "blob.bin", category="temporary")
    url = f"/api/v1/files/{stored['id']}/content"
    etag = (await api.client.head(url, headers=api.headers)).headers["ETag"]

    for condition in ({"If-Match": '"not-this-one"'},
                      {"If-Unmodified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"},
                      {"If-Match": '"nope"', "Range": "bytes=0-9"},
                      {"If-Match": '"nope"', "Range": "bytes=0-1,4-5"}):
        r = await api.client.get(url, headers={**api.headers, **condition})
        assert r.status == 412, condition
        assert r.headers["Content-Type"].startswith("application/json")
        assert "Content-Disposition" not in r.headers
        assert error_of(await r.json()) == "precondition_failed"
        r = await api.client.head(url, headers={**api.headers, **condition})
        assert r.status == 412 and await r.read() == b""

    r = await api.client.get(url, headers={**api.headers, "If-Match": etag})
    assert r.status == 200 and await r.read() == data


async def test_if_range_serves_the_range_only_for_the_files_own_validator(api: Api) -> None:
    data = blob(5000)
    stored = await api.stored(data, "blob.bin", category="temporary")
    url = f"/api/v1/files/{stored['id']}/content"
    head = await api.client.head(url, headers=api.headers)
    etag, modified = head.headers["ETag"], head.headers["Last-Modified"]
    assert etag.startswith('"')

    for validator in (etag, modified):
        r = await api.client.get(url, headers={**api.headers, "Range": "bytes=0-9",
                                               "If-Range": validator})
        assert r.status == 206, validator
        assert await r.read() == data[:10]

    # RFC 9110 §13.1.5: a validator that does not match means "send it all".
    for validator in ('"not-this-one"', f"W/{etag}", "garbage",
                      "Sat, 01 Jan 2000 00:00:00 GMT"):
        r = await api.client.get(url, headers={**api.headers, "Range": "bytes=0-9",
                                               "If-Range": validator})
        assert r.status == 200, validator
        assert "Content-Range" not in r.headers
        assert await r.read() == data
