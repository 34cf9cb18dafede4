"""Status codes and headers of the tus 1.0.0 core protocol and its creation extensions."""

from __future__ import annotations

import base64
import hashlib
from email.utils import parsedate_to_datetime

import pytest

from toolbox_uploader.server import keys
from toolbox_uploader.server.storage import Storage

TUS = "/api/v1/storage/tus/"


async def test_options_advertises_the_server(client) -> None:
    resp = await client.options(TUS)
    assert resp.status == 204
    assert resp.headers["Tus-Version"] == "1.0.0"
    extensions = resp.headers["Tus-Extension"].split(",")
    for name in ("creation", "creation-with-upload", "creation-defer-length", "expiration",
                 "checksum", "termination", "concatenation", "concatenation-unfinished"):
        assert name in extensions
    assert "checksum-trailer" not in extensions
    assert int(resp.headers["Tus-Max-Size"]) == client.app[keys.CONFIG].max_size
    assert set(resp.headers["Tus-Checksum-Algorithm"].split(",")) == {"sha1", "sha256", "md5"}
    assert "Tus-Resumable" not in resp.headers  # every response but OPTIONS


async def test_options_on_an_upload_url_needs_no_token(client) -> None:
    resp = await client.options(TUS + "0" * 32)
    assert resp.status == 204
    assert resp.headers["Tus-Version"] == "1.0.0"


@pytest.mark.parametrize("version", [None, "0.2.2", "1.0", ""])
async def test_unsupported_version_is_412_with_tus_version(tus, version) -> None:
    headers = tus.headers({"Upload-Length": "5"})
    if version is None:
        del headers["Tus-Resumable"]
    else:
        headers["Tus-Resumable"] = version
    resp = await tus.client.post(TUS, headers=headers)
    assert resp.status == 412
    assert resp.headers["Tus-Version"] == "1.0.0"
    assert resp.headers["Tus-Resumable"] == "1.0.0"
    assert (await resp.json())["error"] == "unsupported_version"


async def test_requests_without_a_valid_token_are_401(tus) -> None:
    for token in ("", "wrong"):
        headers = tus.headers({"Upload-Length": "5"})
        headers["Authorization"] = f"Bearer {token}"
        resp = await tus.client.post(TUS, headers=headers)
        assert resp.status == 401
        assert resp.headers["Tus-Resumable"] == "1.0.0"
        assert (await resp.json())["error"] == "unauthorized"


async def test_creation_answers_location_and_expiry(tus) -> None:
    resp = await tus.client.post(TUS, headers=tus.headers({"Upload-Length": "10"}))
    assert resp.status == 201
    assert resp.headers["Tus-Resumable"] == "1.0.0"
    location = resp.headers["Location"]
    assert location.startswith("http://") and TUS in location
    assert len(tus.upload_id(location)) == 32
    expires = parsedate_to_datetime(resp.headers["Upload-Expires"])
    assert expires.tzinfo is not None
    assert "Upload-Offset" not in resp.headers


async def test_head_reports_offset_length_metadata_and_no_store(tus) -> None:
    meta = {"filename": "Übung 1.txt", "relativePath": "week1/Übung 1.txt", "flag": None}
    url = await tus.create(20, meta)
    await tus.patch(url, 0, tus.text(7))
    resp = await tus.head(url)
    assert resp.headers["Upload-Offset"] == "7"
    assert resp.headers["Upload-Length"] == "20"
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Tus-Resumable"] == "1.0.0"
    assert resp.headers["Upload-Metadata"] == tus.metadata(meta)
    assert "Upload-Expires" in resp.headers


async def test_patch_answers_offset_and_expiry(tus) -> None:
    url = await tus.create(20)
    resp = await tus.patch(url, 0, tus.text(5))
    assert resp.headers["Upload-Offset"] == "5"
    assert resp.headers["Tus-Resumable"] == "1.0.0"
    assert parsedate_to_datetime(resp.headers["Upload-Expires"])


async def test_complete_upload_is_stored_under_the_same_id(tus, data_dir) -> None:
    payload = tus.text(3000)
    url = await tus.create(len(payload), {"filename": "a.txt",
                                          "sha256": hashlib.sha256(payload).hexdigest()})
    await tus.patch(url, 0, payload[:1000])
    resp = await tus.patch(url, 1000, payload[1000:])
    assert resp.headers["Upload-Offset"] == "3000"
    assert "Upload-Expires" not in resp.headers
    stored = Storage(data_dir).file_path(tus.upload_id(url))
    assert stored.read_bytes() == payload
    head = await tus.head(url)
    assert head.headers["Upload-Offset"] == head.headers["Upload-Length"] == "3000"


async def test_wrong_content_type_on_patch_is_415(tus) -> None:
    url = await tus.create(5)
    for ctype in ("application/octet-stream", "text/plain", ""):
        resp = await tus.client.patch(url, data=b"hello", headers=tus.headers(
            {"Upload-Offset": "0", "Content-Type": ctype}))
        assert resp.status == 415, ctype
        assert resp.headers["Tus-Resumable"] == "1.0.0"


async def test_offset_mismatch_is_409(tus) -> None:
    url = await tus.create(10)
    await tus.patch(url, 0, b"abc")
    for offset in (0, 2, 5):
        resp = await tus.patch(url, offset, b"def", expect=409)
        assert resp.headers["Upload-Offset"] == "3"
    assert (await tus.head(url)).headers["Upload-Offset"] == "3"


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "+3", "1e3", "", " ", "0x10",
                                   "99999999999999999999999"])
async def test_malformed_numbers_are_400(tus, value) -> None:
    resp = await tus.client.post(TUS, headers=tus.headers({"Upload-Length": value}))
    assert resp.status == 400
    assert (await resp.json())["error"] in {"invalid_header", "missing_length"}
    url = await tus.create(10)
    resp = await tus.patch(url, 0, b"x", expect=400, Upload_Offset=value)
    assert (await resp.json())["error"] in {"invalid_header", "missing_offset"}


async def test_missing_offset_or_length_is_400(tus) -> None:
    resp = await tus.client.post(TUS, headers=tus.headers())
    assert resp.status == 400
    resp = await tus.client.post(TUS, headers=tus.headers(
        {"Upload-Length": "4", "Upload-Defer-Length": "1"}))
    assert resp.status == 400
    resp = await tus.client.post(TUS, headers=tus.headers({"Upload-Defer-Length": "2"}))
    assert resp.status == 400
    url = await tus.create(10)
    resp = await tus.client.patch(url, data=b"x", headers=tus.headers(
        {"Content-Type": tus.OCTET}))
    assert resp.status == 400
    assert (await resp.json())["error"] == "missing_offset"


@pytest.mark.parametrize("metadata", [
    "filename not_base64!",
    "filename YQ",  # bad padding
    "filename YQ==,filename Yg==",  # repeated key
    "filename YQ== extra",
    "file\u00e9name YQ==",
    ",",
    "filename " + "\u00e4" * 4,
])
async def test_bad_metadata_is_400(tus, metadata) -> None:
    resp = await tus.client.post(TUS, headers=tus.headers(
        {"Upload-Length": "5", "Upload-Metadata": metadata}))
    assert resp.status == 400
    assert (await resp.json())["error"] in {"invalid_metadata", "invalid_base64"}


async def test_unknown_category_is_400_and_missing_category_is_default(tus) -> None:
    resp = await tus.client.post(TUS, headers=tus.headers(
        {"Upload-Length": "5", "Upload-Metadata": tus.metadata({"category": "nonsense"})}))
    assert resp.status == 400
    assert (await resp.json())["error"] == "unknown_category"
    await tus.create(5, {"filename": "x.txt"})


async def test_sizes_above_limits_are_413(tus, client) -> None:
    max_size = client.app[keys.CONFIG].max_size
    resp = await tus.client.post(TUS, headers=tus.headers({"Upload-Length": str(max_size + 1)}))
    assert resp.status == 413
    assert (await resp.json())["error"] == "too_large"
    # avatar pictures are at most 10 MB: refused before a byte is sent
    resp = await tus.client.post(TUS, headers=tus.headers({
        "Upload-Length": str(11 * 1024 * 1024),
        "Upload-Metadata": tus.metadata({"category": "avatar"})}))
    assert resp.status == 413
    # more data than the declared length
    url = await tus.create(4)
    resp = await tus.patch(url, 0, b"12345", expect=413)
    assert (await tus.head(url)).headers["Upload-Offset"] == "0"


async def test_unknown_upload_is_404(tus) -> None:
    for suffix in ("0" * 32, "not-an-id", "..%2F..%2Fetc%2Fpasswd", "A" * 32):
        resp = await tus.client.head(TUS + suffix, headers=tus.headers())
        assert resp.status == 404, suffix
        resp = await tus.client.patch(TUS + suffix, data=b"x", headers=tus.headers(
            {"Upload-Offset": "0", "Content-Type": tus.OCTET}))
        assert resp.status == 404, suffix
        assert resp.headers["Tus-Resumable"] == "1.0.0"
        assert (await resp.json())["error"] == "upload_not_found"


async def test_creation_with_upload(tus, data_dir) -> None:
    payload = tus.text(100)
    resp = await tus.client.post(TUS, data=payload[:60], headers=tus.headers({
        "Upload-Length": "100", "Content-Type": tus.OCTET,
        "Upload-Metadata": tus.metadata({"filename": "w.txt"})}))
    assert resp.status == 201
    assert resp.headers["Upload-Offset"] == "60"
    url = tus.rel(resp.headers["Location"])
    await tus.patch(url, 60, payload[60:])
    assert Storage(data_dir).file_path(tus.upload_id(url)).read_bytes() == payload


async def test_creation_with_whole_upload_completes_at_once(tus, data_dir) -> None:
    payload = tus.text(50)
    resp = await tus.client.post(TUS, data=payload, headers=tus.headers({
        "Upload-Length": "50", "Content-Type": tus.OCTET}))
    assert resp.status == 201
    assert resp.headers["Upload-Offset"] == "50"
    url = resp.headers["Location"]
    assert Storage(data_dir).file_path(tus.upload_id(url)).read_bytes() == payload


async def test_creation_with_data_of_another_type_is_415(tus) -> None:
    resp = await tus.client.post(TUS, data=b"abc", headers=tus.headers({
        "Upload-Length": "3", "Content-Type": "text/plain"}))
    assert resp.status == 415


async def test_defer_length(tus, data_dir) -> None:
    payload = tus.text(90)
    url = await tus.create(None)
    head = await tus.head(url)
    assert head.headers["Upload-Defer-Length"] == "1"
    assert "Upload-Length" not in head.headers
    await tus.patch(url, 0, payload[:40])
    # the length is declared with a later PATCH, then cannot change
    await tus.patch(url, 40, payload[40:70], Upload_Length="90")
    head = await tus.head(url)
    assert head.headers["Upload-Length"] == "90"
    assert "Upload-Defer-Length" not in head.headers
    await tus.patch(url, 70, b"", expect=400, Upload_Length="91")
    await tus.patch(url, 70, payload[70:])
    assert Storage(data_dir).file_path(tus.upload_id(url)).read_bytes() == payload


async def test_defer_length_cannot_be_below_what_arrived(tus) -> None:
    url = await tus.create(None)
    await tus.patch(url, 0, b"abcdef")
    resp = await tus.patch(url, 6, b"", expect=400, Upload_Length="3")
    assert (await resp.json())["error"] == "invalid_header"


async def test_method_override(tus, data_dir) -> None:
    payload = tus.text(30)
    url = await tus.create(30)
    resp = await tus.client.post(url, data=payload, headers=tus.headers({
        "X-HTTP-Method-Override": "PATCH", "Upload-Offset": "0", "Content-Type": tus.OCTET}))
    assert resp.status == 204
    assert resp.headers["Upload-Offset"] == "30"
    url2 = await tus.create(30)
    resp = await tus.client.post(url2, headers=tus.headers({"X-HTTP-Method-Override": "DELETE"}))
    assert resp.status == 204
    await tus.head(url2, expect=404)
    resp = await tus.client.post(url2, headers=tus.headers({"X-HTTP-Method-Override": "GET"}))
    assert resp.status == 405
    # The header wins whatever method carries it, on the collection as on an upload.
    url3 = await tus.create(30)
    resp = await tus.client.patch(url3, data=b"", headers=tus.headers({
        "X-HTTP-Method-Override": "DELETE", "Upload-Offset": "0", "Content-Type": tus.OCTET}))
    assert resp.status == 204
    await tus.head(url3, expect=404)
    resp = await tus.client.post(TUS, headers=tus.headers({"X-HTTP-Method-Override": "OPTIONS"}))
    assert resp.status == 204 and "creation" in resp.headers["Tus-Extension"]
    resp = await tus.client.post(TUS, headers=tus.headers({"X-HTTP-Method-Override": "DELETE"}))
    assert resp.status == 405 and "POST" in resp.headers["Allow"]


async def test_cors_preflight_and_exposed_headers(tus) -> None:
    resp = await tus.client.options(TUS, headers={
        "Origin": "https://school.example", "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "tus-resumable, upload-offset, authorization"})
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == "https://school.example"
    allowed = resp.headers["Access-Control-Allow-Headers"].lower()
    for name in ("tus-resumable", "upload-offset", "upload-metadata", "authorization",
                 "upload-checksum", "x-http-method-override", "upload-concat"):
        assert name in allowed
    assert "PATCH" in resp.headers["Access-Control-Allow-Methods"]
    resp = await tus.client.post(TUS, headers=tus.headers(
        {"Upload-Length": "3", "Origin": "https://school.example"}))
    exposed = resp.headers["Access-Control-Expose-Headers"].lower()
    for name in ("location", "upload-offset", "upload-expires", "tus-resumable"):
        assert name in exposed
    # errors carry CORS headers too, or a browser could not read them
    resp = await tus.client.post(TUS, headers={"Origin": "https://school.example"})
    assert resp.status == 412
    assert resp.headers["Access-Control-Allow-Origin"] == "https://school.example"


async def test_unsupported_methods_are_405_json(tus) -> None:
    url = await tus.create(5)
    for method in ("GET", "PUT"):
        resp = await tus.client.request(method, url, headers=tus.headers())
        assert resp.status == 405
        assert resp.headers["Tus-Resumable"] == "1.0.0"
        assert (await resp.json())["error"] == "method_not_allowed"


async def test_patch_on_a_completed_upload(tus) -> None:
    payload = tus.text(20)
    url = await tus.create(20)
    await tus.patch(url, 0, payload)
    resp = await tus.patch(url, 20, b"")  # harmless: nothing more to add
    assert resp.headers["Upload-Offset"] == "20"
    await tus.patch(url, 20, b"more", expect=400)
    await tus.patch(url, 3, b"x", expect=409)


async def test_creation_with_upload_and_checksum(tus) -> None:
    payload = tus.text(40)
    good = base64.b64encode(hashlib.sha256(payload).digest()).decode()
    resp = await tus.client.post(TUS, data=payload, headers=tus.headers({
        "Upload-Length": "80", "Content-Type": tus.OCTET, "Upload-Checksum": f"sha256 {good}"}))
    assert resp.status == 201
    assert resp.headers["Upload-Offset"] == "40"
    resp = await tus.client.post(TUS, data=payload, headers=tus.headers({
        "Upload-Length": "80", "Content-Type": tus.OCTET, "Upload-Checksum": "sha256 AAAA"}))
    assert resp.status == 400  # refused before anything is created
    assert "Location" not in resp.headers
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    resp = await tus.client.post(TUS, data=payload, headers=tus.headers({
        "Upload-Length": "80", "Content-Type": tus.OCTET, "Upload-Checksum": f"sha256 {wrong}"}))
    assert resp.status == 460
    assert (await tus.head(resp.headers["Location"])).headers["Upload-Offset"] == "0"
