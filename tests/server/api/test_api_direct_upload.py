"""``POST /api/v1/files/upload`` and ``/upload/batch`` against the real app and libmagic."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from _api_support import ELF, MULTIPART_TYPE, Api, bearer, error_of, multipart, png_bytes

from tests.support.payloads import blob
from toolbox_uploader.server import keys
from toolbox_uploader.server.config import ServerConfig

#: What the validation may call a program sent as teaching material.
REFUSED_PROGRAM = {"executable_content", "executable_extension", "type_not_allowed"}


def stored_files(api: Api) -> list[Path]:
    return [p for p in api.app[keys.STORAGE].files_dir.rglob("*") if p.is_file()]


def temp_files(api: Api) -> list[Path]:
    return list(api.app[keys.STORAGE].tmp_dir.iterdir())


async def post(api: Api, body: bytes, path: str = "/api/v1/files/upload", **headers: str):
    return await api.client.post(
        path, data=body, headers={**api.headers, "Content-Type": MULTIPART_TYPE, **headers}
    )


async def test_upload_stores_file_with_its_fields(api: Api) -> None:
    image = png_bytes()
    r = await api.upload(
        image, "Kapitel 1/../../etc/Bild.png", category="educational_content",
        relative_path="Mathe\\Kapitel 1/../Bild.png", title="  Ein Bild ",
        description="Zeile 1\nZeile 2", tags="geo, math ,geo",
        sha256=hashlib.sha256(image).hexdigest().upper(),
    )
    body = await r.json()
    assert r.status == 201, body
    assert r.headers["Location"] == f"/api/v1/files/{body['id']}"
    assert body["filename"] == "Bild.png"  # the last segment only: data, never a path
    assert body["relative_path"] == "Mathe/Kapitel 1/Bild.png"
    assert (body["title"], body["description"]) == ("Ein Bild", "Zeile 1\nZeile 2")
    assert body["tags"] == ["geo", "math"]
    assert (body["size"], body["mime_type"], body["status"]) == (len(image), "image/png",
                                                                  "available")
    assert body["sha256"] == hashlib.sha256(image).hexdigest()
    [path] = stored_files(api)
    assert path.name == body["id"] and path.read_bytes() == image
    assert temp_files(api) == []


async def test_fields_after_the_file_and_default_category(api: Api) -> None:
    body = multipart(("file", "a.txt", b"plain text\n"), ("title", None, b"after"))
    r = await post(api, body)
    record = await r.json()
    assert r.status == 201, record
    assert (record["title"], record["category"]) == ("after", "educational_content")


async def test_type_not_allowed_by_category_is_refused(api: Api) -> None:
    r = await api.upload(ELF, "worksheet.pdf", category="educational_content")
    assert r.status == 422
    assert error_of(await r.json()) in REFUSED_PROGRAM
    assert stored_files(api) == [] and temp_files(api) == []
    r = await api.upload(png_bytes(), "ok.png", category="educational_content")
    assert r.status == 201


async def test_sha256_mismatch_refuses_and_keeps_nothing(api: Api) -> None:
    r = await api.upload(b"some text\n", sha256="0" * 64)
    assert r.status == 400
    assert error_of(await r.json()) == "checksum_mismatch"
    r = await api.upload(b"some text\n", sha256="not-hex")
    assert r.status == 400 and error_of(await r.json()) == "invalid_field"
    assert stored_files(api) == [] and temp_files(api) == []


@pytest.fixture
def api_config(server_config: ServerConfig) -> ServerConfig:
    server_config.max_size = 256 * 1024
    server_config.options["progress_interval"] = 0.0
    return server_config


async def test_size_limit_is_enforced_while_streaming(api: Api) -> None:
    r = await api.upload(blob(2 * 1024 * 1024), "big.bin", category="temporary")
    assert r.status == 413
    body = await r.json()
    assert error_of(body) == "too_large"
    assert body["message"] == "The file is larger than the 262 kB limit."
    assert stored_files(api) == [] and temp_files(api) == []
    # A declared size over a category's limit is refused before any byte is read.
    r = await api.upload(b"x", "avatar.png", category="avatar", size=str(20 * 1024 * 1024))
    assert r.status == 413 and error_of(await r.json()) == "too_large"
    # An absurd Content-Length is refused up front.
    r = await post(api, b"--x--\r\n", **{"Content-Length": str(10**12)})
    assert r.status == 413


async def test_quota_is_enforced_while_streaming_and_reported(api: Api) -> None:
    small = api.add_account("tiny", quota=1000)
    headers = {"Authorization": f"Bearer {small}"}
    r = await api.upload(b"a" * 600 + b"\n", "one.txt", token=small)
    assert r.status == 201
    r = await api.client.get("/api/v1/quota", headers=headers)
    assert await r.json() == {"used": 601, "reserved": 0, "limit": 1000, "available": 399}
    r = await api.upload(b"b" * 600 + b"\n", "two.txt", token=small)
    body = await r.json()
    assert r.status == 413 and error_of(body) == "quota_exceeded"
    assert body["message"] == "The file does not fit in the account's quota; 399 bytes are left."
    r = await api.upload(b"c\n", "three.txt", token=small, size="5000")
    assert r.status == 413 and error_of(await r.json()) == "quota_exceeded"
    assert temp_files(api) == []
    r = await api.client.get("/api/v1/quota", headers=api.headers)
    assert (await r.json())["limit"] == 20 * 1024**3


async def test_quota_refusal_gives_a_human_size(api: Api) -> None:
    token = api.add_account("kb", quota=150_000)
    r = await api.upload(b"c\n", "big.txt", token=token, size="200000")
    body = await r.json()
    assert r.status == 413 and error_of(body) == "quota_exceeded"
    assert body["message"] == "The file does not fit in the account's quota; 150 kB are left."


async def test_malformed_single_uploads(api: Api) -> None:
    cases = {
        "no_file": multipart(("title", None, b"t")),
        "one_file_only": multipart(("file", "a.txt", b"a\n"), ("file", "b.txt", b"b\n")),
        "unknown_category": multipart(("category", None, b"homework"), ("file", "a.txt", b"a")),
        "invalid_field": multipart(("tags", None, b"[1, 2]"), ("file", "a.txt", b"a")),
        "duplicate_field": multipart(("title", None, b"a"), ("title", None, b"b")),
        "field_too_large": multipart(("description", None, b"d" * 70_000)),
    }
    for code, body in cases.items():
        r = await post(api, body)
        assert r.status == 400, code
        assert error_of(await r.json()) == code
    r = await api.upload(b"a\n", "evil\u202egpj.exe")
    assert r.status == 400 and error_of(await r.json()) == "invalid_field"
    assert stored_files(api) == [] and temp_files(api) == []


def batch_body(files: list[tuple[str, bytes]], manifest: object) -> bytes:
    text = manifest if isinstance(manifest, str) else json.dumps(manifest)
    return multipart(("manifest", None, text.encode()), *[("files", n, c) for n, c in files])


async def test_batch_partial_failure_keeps_the_good_files(api: Api) -> None:
    image = png_bytes()
    files = [("a.png", image), ("tool.exe", ELF), ("b.txt", b"notes\n"),
             ("c.txt", b"checked\n"), ("big.bin", blob(300 * 1024))]
    manifest = [
        {"category": "media_resource", "title": "A", "tags": ["x"]},
        {"category": "educational_content", "title": "Program"},
        {"category": "report", "description": "d", "relative_path": "w/b.txt"},
        {"category": "report", "sha256": "f" * 64},
        {"category": "temporary"},
    ]
    r = await post(api, batch_body(files, manifest), "/api/v1/files/upload/batch")
    body = await r.json()
    assert r.status == 207, body
    assert (body["total_files"], body["successful_uploads"], body["failed_uploads"]) == (5, 2, 3)
    results = body["results"]
    assert [x["index"] for x in results] == [0, 1, 2, 3, 4]
    assert [x["status"] for x in results] == [201, 422, 201, 400, 413]
    errors = [x.get("error") for x in results]
    assert errors[1] in REFUSED_PROGRAM
    assert errors[:1] + errors[2:] == [None, None, "checksum_mismatch", "too_large"]
    assert results[0]["file"]["title"] == "A" and results[0]["file"]["tags"] == ["x"]
    assert results[2]["file"]["relative_path"] == "w/b.txt"
    listing = await (await api.client.get("/api/v1/files", headers=api.headers)).json()
    assert sorted(f["filename"] for f in listing["files"]) == ["a.png", "b.txt"]
    assert len(stored_files(api)) == 2 and temp_files(api) == []


async def test_batch_all_good_is_200_and_manifest_may_come_last(api: Api) -> None:
    body = multipart(("files", "1.txt", b"one\n"), ("files", "2.txt", b"two\n"),
                     ("manifest", None, b'[{"category": "report"}, {"title": "Zwei"}]'))
    r = await post(api, body, "/api/v1/files/upload/batch")
    result = await r.json()
    assert r.status == 200, result
    assert [x["file"]["category"] for x in result["results"]] == ["report",
                                                                  "educational_content"]


async def test_a_batch_past_the_quota_stores_what_fits_and_lets_go_of_the_rest(
        api: Api) -> None:
    token = api.add_account("batcher", quota=150_000)
    files = [(f"{n}.txt", (f"sheet {n} " * 8000).encode()[:60_000]) for n in range(3)]
    body = batch_body(files, [{"category": "report"}] * 3)
    r = await api.client.post("/api/v1/files/upload/batch", data=body, headers={
        **bearer(token), "Content-Type": MULTIPART_TYPE})
    result = await r.json()
    assert r.status == 207, result
    assert [x["status"] for x in result["results"]] == [201, 201, 413]
    assert result["results"][2]["error"] == "quota_exceeded"
    quota = await (await api.client.get("/api/v1/quota", headers=bearer(token))).json()
    assert (quota["used"], quota["reserved"]) == (120_000, 0)  # nothing is held on
    r = await api.upload(b"one more line\n" * 2000, "last.txt", token=token)
    assert r.status == 201, await r.text()


async def test_bad_batches_are_400_and_store_nothing(api: Api) -> None:
    two = [("1.txt", b"one\n"), ("2.txt", b"two\n")]
    cases = [
        ("invalid_manifest", batch_body(two, "[{not json")),
        ("invalid_manifest", batch_body(two, {"category": "report"})),
        ("invalid_manifest", batch_body(two, [1, 2])),
        ("manifest_mismatch", batch_body(two, [{}])),
        ("manifest_mismatch", batch_body(two, [{}, {}, {}])),
        ("missing_manifest", multipart(("files", "1.txt", b"one\n"))),
        ("no_file", batch_body([], [])),
        ("unknown_category", batch_body(two, [{"category": "homework"}, {}])),
        ("invalid_field", batch_body(two, [{"title": 5}, {}])),
        ("invalid_field", batch_body(two, [{"tags": "a"}, {"tags": {"a": 1}}])),
        ("invalid_field", batch_body(two, '[{"description": "\\ud800"}, {}]')),
        ("invalid_field", batch_body(two, '[{"title": "a\\u0000b"}, {}]')),
        ("invalid_field", batch_body(two, [{"size": 1.5}, {"size": -1}])),
    ]
    for code, body in cases:
        r = await post(api, body, "/api/v1/files/upload/batch")
        assert r.status == 400, code
        assert error_of(await r.json()) == code, code
    assert stored_files(api) == [] and temp_files(api) == []


async def test_wrong_content_type_is_415(api: Api) -> None:
    for path in ("/api/v1/files/upload", "/api/v1/files/upload/batch"):
        r = await api.client.post(path, data=b"{}", headers={
            **api.headers, "Content-Type": "application/json"})
        assert r.status == 415
        assert error_of(await r.json()) == "unsupported_media_type"


async def test_a_body_that_only_drips_is_408(
    aiohttp_client, server_config: ServerConfig
) -> None:
    """100 bytes every 0.2 s never trip the 0.5 s idle timeout (the multipart reader
    waits for a boundary's length at a time); the pace rule ends them."""
    import asyncio
    import time

    from toolbox_uploader.server.app import create_app

    server_config.options["tus_idle_timeout"] = 0.5
    client = await aiohttp_client(create_app(server_config))
    api = Api(client, client.server.app[keys.DEFAULT_TOKEN], "")
    body = multipart(("file", "notes.txt", b"The quick brown fox. " * 3000))

    async def drips():
        yield body[:600]  # the part's head and a little of the file
        for n in range(600, 10_600, 100):  # at most 20 s
            yield body[n:n + 100]
            await asyncio.sleep(0.2)
        yield body[10_600:]

    started = time.monotonic()
    r = await post(api, drips(), **{"Content-Length": str(len(body))})  # type: ignore[arg-type]
    assert r.status == 408, await r.text()
    assert error_of(await r.json()) == "too_slow"
    assert time.monotonic() - started < 10
    assert stored_files(api) == [] and temp_files(api) == []


async def test_a_body_that_stops_arriving_is_400_not_a_hang(
    aiohttp_client, server_config: ServerConfig
) -> None:
    import asyncio
    import time

    from toolbox_uploader.server.app import create_app

    server_config.options["tus_idle_timeout"] = 0.5
    client = await aiohttp_client(create_app(server_config))
    api = Api(client, client.server.app[keys.DEFAULT_TOKEN], "")
    body = multipart(("file", "notes.txt", b"The quick brown fox. " * 3000))

    async def stalls():
        yield body[:20000]
        await asyncio.sleep(5)  # never reached: the server answers first
        yield body[20000:]

    started = time.monotonic()
    r = await post(api, stalls(), **{"Content-Length": str(len(body))})  # type: ignore[arg-type]
    assert r.status == 400 and error_of(await r.json()) == "incomplete_body"
    assert time.monotonic() - started < 4
    assert stored_files(api) == [] and temp_files(api) == []
