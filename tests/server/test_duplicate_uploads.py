"""A tus upload that completes as a copy of a file the account already has is not stored
twice: the server keeps the existing file, drops the new bytes and tells the client which
file it ended up as (``Location``, ``Toolbox-Duplicate-Of``, an alias id).

The real server on a loopback port and real HTTP (httpx); one test runs the real engine
twice over the same folder, the second time with an empty queue (``queue clear``).
"""

from __future__ import annotations

import base64
import hashlib
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.engine.engine_support import (
    add_server_account,
    item,
    server_files,
    text_file,
    wait_for,
)
from toolbox_uploader.core.engine import Engine, EngineConfig
from toolbox_uploader.core.events import ItemSnapshot
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.app import DB_FILE
from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.db import ServerDatabase
from toolbox_uploader.server.embedded import EmbeddedServer, ServerHandle
from toolbox_uploader.server.files_store import COPIES_SQL
from toolbox_uploader.server.storage import Storage
from toolbox_uploader.server.validation_hook import ValidationOutcome, default_validator

TUS = "/api/v1/storage/tus/"
OCTET = "application/offset+octet-stream"
DUPLICATE_OF = "Toolbox-Duplicate-Of"
TIMEOUT = 30.0


def text(size: int, seed: int = 0) -> bytes:
    line = f"Worksheet {seed}: the quick brown fox jumps over the lazy dog.\n".encode()
    return (line * (size // len(line) + 1))[:size]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encode_metadata(values: Mapping[str, str]) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def upload_id(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


class Client:
    """Raw tus and REST calls for one account of a live server."""

    def __init__(self, server: ServerHandle, token: str | None = None) -> None:
        self.url = server.url
        self.http = httpx.Client(base_url=server.url, timeout=TIMEOUT,
                                 headers={"Authorization": f"Bearer {token or server.token}"})

    def close(self) -> None:
        self.http.close()

    def tus(self, **extra: str) -> dict[str, str]:
        return {"Tus-Resumable": "1.0.0", **{k.replace("_", "-"): v for k, v in extra.items()}}

    def metadata(self, data: bytes, relative_path: str = "Mathe/blatt.txt",
                 category: str = "educational_content", with_sha256: bool = True,
                 ) -> dict[str, str]:
        meta = {"filename": relative_path.rsplit("/", 1)[-1], "relativePath": relative_path,
                "category": category}
        if with_sha256:
            meta["sha256"] = sha(data)
        return meta

    def post_whole(self, data: bytes, metadata: Mapping[str, str]) -> httpx.Response:
        """Creation-with-upload carrying the whole file."""
        response = self.http.post(TUS, content=data, headers=self.tus(
            Upload_Length=str(len(data)), Content_Type=OCTET,
            Upload_Metadata=encode_metadata(metadata)))
        assert response.status_code == 201, response.text
        return response

    def create(self, length: int, metadata: Mapping[str, str]) -> str:
        response = self.http.post(TUS, headers=self.tus(
            Upload_Length=str(length), Upload_Metadata=encode_metadata(metadata)))
        assert response.status_code == 201, response.text
        return response.headers["Location"]

    def patch(self, url: str, offset: int, data: bytes) -> httpx.Response:
        response = self.http.patch(url, content=data, headers=self.tus(
            Upload_Offset=str(offset), Content_Type=OCTET))
        assert response.status_code == 204, response.text
        return response

    def head(self, url: str) -> httpx.Response:
        return self.http.head(url, headers=self.tus())

    def upload_by_patch(
            self, data: bytes, metadata: Mapping[str, str]) -> tuple[str, httpx.Response]:
        """Create without data, then two PATCHes; returns the URL and the last answer."""
        url = self.create(len(data), metadata)
        half = len(data) // 2
        self.patch(url, 0, data[:half])
        return url, self.patch(url, half, data[half:])

    def files(self) -> list[dict[str, Any]]:
        response = self.http.get("/api/v1/files", params={"limit": 500})
        assert response.status_code == 200, response.text
        return list(response.json()["files"])

    def file(self, file_id: str) -> httpx.Response:
        return self.http.get(f"/api/v1/files/{file_id}")

    def quota(self) -> dict[str, Any]:
        response = self.http.get("/api/v1/quota")
        assert response.status_code == 200, response.text
        return dict(response.json())


@pytest.fixture
def client(live_server: ServerHandle) -> Iterator[Client]:
    c = Client(live_server)
    yield c
    c.close()


@pytest.fixture
def storage(server_config: ServerConfig) -> Storage:
    return Storage(server_config.data_dir)


def stored_files(storage: Storage) -> list[Path]:
    return [p for p in storage.files_dir.rglob("*") if p.is_file()]


def part_files(storage: Storage) -> list[Path]:
    return list(storage.uploads_dir.glob("*.part"))


def assert_finished(response: httpx.Response, size: int) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["Upload-Offset"] == str(size)
    assert response.headers["Upload-Length"] == str(size)


@pytest.mark.parametrize("size", [50_000, 2 * 1024 * 1024], ids=["in-memory", "streamed"])
@pytest.mark.parametrize("with_sha256", [True, False], ids=["sha256", "no-sha256"])
def test_a_creation_with_upload_copy_answers_with_the_existing_file(
        client: Client, storage: Storage, size: int, with_sha256: bool) -> None:
    data = text(size)
    metadata = client.metadata(data, with_sha256=with_sha256)
    first = client.post_whole(data, metadata)
    first_id = upload_id(first.headers["Location"])
    assert DUPLICATE_OF not in first.headers
    before = client.quota()

    second = client.post_whole(data, metadata)

    assert second.headers["Upload-Offset"] == str(size)
    assert upload_id(second.headers["Location"]) == first_id
    assert second.headers[DUPLICATE_OF] == first_id
    assert_finished(client.head(second.headers["Location"]), size)
    record = client.file(upload_id(second.headers["Location"])).json()
    assert (record["id"], record["sha256"], record["size"]) == (first_id, sha(data), size)
    assert [f["id"] for f in client.files()] == [first_id]
    assert client.quota() == before
    assert before["reserved"] == 0 and before["used"] == size
    assert len(stored_files(storage)) == 1
    assert part_files(storage) == []


def test_a_copy_completed_by_patch_keeps_its_url_as_an_alias(
        client: Client, storage: Storage) -> None:
    data = text(300_000, seed=1)
    metadata = client.metadata(data, relative_path="Deutsch/Gedicht.txt", category="report",
                               with_sha256=False)
    first_url, _ = client.upload_by_patch(data, metadata)
    first_id = upload_id(first_url)
    before = client.quota()

    url = client.create(len(data), metadata)
    client.patch(url, 0, data[:1000])
    assert client.quota()["reserved"] == len(data)  # reserved while it arrives
    last = client.patch(url, 1000, data[1000:])

    new_id = upload_id(url)
    assert new_id != first_id
    assert last.headers["Upload-Offset"] == str(len(data))
    assert last.headers[DUPLICATE_OF] == first_id
    head = client.head(url)
    assert_finished(head, len(data))
    assert head.headers[DUPLICATE_OF] == first_id
    # The client verifies through its own URL's id: the existing record answers.
    alias = client.file(new_id)
    assert alias.status_code == 200, alias.text
    original = client.file(first_id).json()
    assert alias.json() == original
    assert (original["sha256"], original["relative_path"], original["category"]) == (
        sha(data), "Deutsch/Gedicht.txt", "report")
    content = client.http.get(f"/api/v1/files/{new_id}/content")
    assert content.status_code == 200 and content.content == data
    # Nothing new is listed, stored or counted, and no reservation is left.
    assert [f["id"] for f in client.files()] == [first_id]
    assert client.quota() == before
    assert len(stored_files(storage)) == 1
    assert part_files(storage) == []
    # A PATCH repeated after the answer was lost still says so.
    again = client.patch(url, len(data), b"")
    assert again.headers[DUPLICATE_OF] == first_id


def test_the_alias_outlives_the_upload_records(
        client: Client, server_config: ServerConfig) -> None:
    data = text(20_000, seed=2)
    metadata = client.metadata(data)
    first_id = upload_id(client.post_whole(data, metadata).headers["Location"])
    url, _ = client.upload_by_patch(data, metadata)
    # A week later the tus records are forgotten (expiry purges them); the link stays.
    with sqlite3.connect(server_config.data_dir / DB_FILE) as conn:
        conn.execute("DELETE FROM uploads")
    assert client.head(url).status_code == 404
    assert client.file(upload_id(url)).json()["id"] == first_id
    # Deleting the file (by either name) deletes it; the alias goes with it.
    assert client.http.delete(f"/api/v1/files/{upload_id(url)}").status_code == 204
    assert client.file(first_id).status_code == 404
    assert client.file(upload_id(url)).status_code == 404
    assert client.quota()["used"] == 0
    # The content is new again: stored as a new file.
    third = client.post_whole(data, metadata)
    assert DUPLICATE_OF not in third.headers
    assert [f["id"] for f in client.files()] == [upload_id(third.headers["Location"])]


def test_a_copy_of_a_direct_upload_points_to_a_working_tus_url(client: Client) -> None:
    data = text(10_000, seed=3)
    direct = client.http.post("/api/v1/files/upload", files={
        "file": ("blatt.txt", data, "text/plain")},
        data={"relative_path": "Mathe/blatt.txt", "category": "educational_content"})
    assert direct.status_code == 201, direct.text
    existing = direct.json()["id"]

    copy = client.post_whole(data, client.metadata(data))

    assert copy.headers[DUPLICATE_OF] == existing
    assert upload_id(copy.headers["Location"]) == existing
    assert_finished(client.head(copy.headers["Location"]), len(data))
    assert [f["id"] for f in client.files()] == [existing]


@pytest.mark.parametrize("change", ["relative_path", "category", "content", "account"])
def test_only_the_same_content_path_category_and_account_is_a_copy(
        live_server: ServerHandle, client: Client, server_config: ServerConfig,
        change: str) -> None:
    data = text(40_000, seed=4)
    first = client.post_whole(data, client.metadata(data))
    assert DUPLICATE_OF not in first.headers
    other = client
    second_data, relative_path, category = data, "Mathe/blatt.txt", "educational_content"
    if change == "relative_path":
        relative_path = "Mathe/Kopie/blatt.txt"
    elif change == "category":
        category = "report"
    elif change == "content":
        second_data = text(40_000, seed=5)
    else:
        token = add_server_account(server_config.data_dir, "colleague")
        other = Client(live_server, token)
    try:
        url, last = other.upload_by_patch(second_data, other.metadata(
            second_data, relative_path=relative_path, category=category))
        assert DUPLICATE_OF not in last.headers
        record = other.file(upload_id(url)).json()
        assert (record["id"], record["relative_path"], record["category"]) == (
            upload_id(url), relative_path, category)
        if change == "account":
            assert [f["id"] for f in other.files()] == [upload_id(url)]
            assert len(client.files()) == 1
        else:
            assert len(client.files()) == 2
    finally:
        if other is not client:
            other.close()


def test_two_copies_completing_together_end_as_one_file(tmp_path: Path) -> None:
    # Both completions wait for each other inside validation, so both reach the point
    # where the file is recorded at the same moment.
    barrier = threading.Barrier(2, timeout=10)

    def validator(path: Path, category: str, filename: str) -> ValidationOutcome:
        barrier.wait()
        return default_validator(path, category, filename)

    config = ServerConfig(data_dir=tmp_path / "together", port=0, validator=validator)
    data = text(200_000, seed=6)
    with EmbeddedServer(config) as server:
        client = Client(server)
        try:
            metadata = client.metadata(data)
            urls = [client.create(len(data), metadata) for _ in range(2)]
            for url in urls:
                client.patch(url, 0, data[:-10])
            with ThreadPoolExecutor(2) as pool:
                answers = list(pool.map(lambda u: client.patch(u, len(data) - 10, data[-10:]),
                                        urls))
            files = client.files()
            assert len(files) == 1
            kept = files[0]["id"]
            assert kept in {upload_id(u) for u in urls}
            assert sorted(a.headers.get(DUPLICATE_OF, "") for a in answers) == ["", kept]
            for url in urls:
                assert_finished(client.head(url), len(data))
                assert client.file(upload_id(url)).json()["id"] == kept
            assert client.quota()["used"] == len(data)
            assert client.quota()["reserved"] == 0
            storage = Storage(config.data_dir)
            assert len(stored_files(storage)) == 1
            assert part_files(storage) == []
        finally:
            client.close()


def _start_engine(store_path: Path, server: ServerHandle) -> Engine:
    engine = Engine(EngineConfig(store_path=store_path, server_url=server.url,
                                 token=server.token, optimize_images=False))
    engine.start()
    return engine


def _upload_folder(store_path: Path, server: ServerHandle, folder: Path,
                   names: list[str]) -> list[ItemSnapshot]:
    engine = _start_engine(store_path, server)
    try:
        engine.add_paths([folder])

        def all_done() -> bool:
            snaps = engine.snapshot()
            return len(snaps) == len(names) and all(s.state is ItemState.DONE for s in snaps)

        wait_for(all_done, 60, interval=0.05, describe=engine.snapshot)
        for name in names:
            snap = item(engine, name)
            assert snap is not None and snap.file_url, name
        return engine.snapshot()
    finally:
        engine.stop()


def test_the_same_folder_sent_again_with_an_empty_queue_is_stored_once(
        live_server: ServerHandle, client: Client, storage: Storage, tmp_path: Path) -> None:
    folder = tmp_path / "Unterricht"
    names = []
    for n in range(12):
        text_file(folder / f"Klasse {n % 3}" / f"blatt-{n}.txt", 2_000 + 500 * n, seed=n)
        names.append(f"blatt-{n}.txt")
    # Over 10 MB: created empty and sent by PATCH, without sha256 metadata.
    text_file(folder / "Lesebuch.txt", 11 * 1024 * 1024, seed=99)
    names.append("Lesebuch.txt")

    _upload_folder(tmp_path / "queue-1.sqlite3", live_server, folder, names)
    first = client.files()
    assert len(first) == len(names)
    quota = client.quota()

    # ``queue clear``: a new engine with a new, empty queue sends the same folder again.
    second = _upload_folder(tmp_path / "queue-2.sqlite3", live_server, folder, names)
    # The small ones, sent in one request each, are told they were there already.
    noted = {s.display_name for s in second
             if s.reason is not None and s.reason.code == "already_uploaded"}
    assert noted == set(names) - {"Lesebuch.txt"}, second

    again = client.files()
    assert sorted(f["id"] for f in again) == sorted(f["id"] for f in first)
    assert len({(f["sha256"], f["relative_path"], f["category"]) for f in again}) == len(names)
    assert client.quota() == quota
    assert quota["reserved"] == 0
    assert len(stored_files(storage)) == len(names)
    assert part_files(storage) == []
    assert server_files(live_server.url, live_server.token) == again


def test_a_concatenated_copy_answers_with_the_existing_file(client: Client) -> None:
    data = text(60_000, seed=7)
    metadata = client.metadata(data)
    first_id = upload_id(client.post_whole(data, metadata).headers["Location"])
    parts = []
    for piece in (data[:25_000], data[25_000:]):
        response = client.http.post(TUS, content=piece, headers=client.tus(
            Upload_Length=str(len(piece)), Upload_Concat="partial", Content_Type=OCTET))
        assert response.status_code == 201, response.text
        parts.append(httpx.URL(response.headers["Location"]).path)
    final = client.http.post(TUS, headers=client.tus(
        Upload_Concat="final;" + " ".join(parts), Upload_Metadata=encode_metadata(metadata)))
    assert final.status_code == 201, final.text
    assert final.headers[DUPLICATE_OF] == first_id
    assert upload_id(final.headers["Location"]) == first_id
    assert [f["id"] for f in client.files()] == [first_id]
    assert client.quota()["reserved"] == 0


def test_finding_a_copy_is_an_index_search_not_a_scan(tmp_path: Path) -> None:
    db = ServerDatabase(tmp_path / "server.sqlite3")
    try:
        with db.transaction() as conn:
            plan = " ".join(str(row[3]) for row in conn.execute(
                f"EXPLAIN QUERY PLAN {COPIES_SQL}", ("o", "s", "p", 1, "f", "c")))
    finally:
        db.close()
    assert "SEARCH files USING INDEX files_owner_sha256_path" in plan, plan


def test_a_copy_with_a_corrected_title_corrects_the_stored_file(client: Client) -> None:
    """Sent again with a new title (and no description): the title changes, the
    description stays, and nothing is stored twice."""
    data = text(20_000)
    first = client.post_whole(data, {**client.metadata(data), "title": "Old title",
                                     "description": "Fractions, week 3"})
    first_id = upload_id(first.headers["Location"])
    second = client.post_whole(data, {**client.metadata(data), "title": "Corrected title"})
    assert second.headers[DUPLICATE_OF] == first_id
    record = client.file(first_id).json()
    assert (record["title"], record["description"]) == ("Corrected title", "Fractions, week 3")
    assert len(client.files()) == 1
    third = client.post_whole(data, client.metadata(data))  # no details: nothing changes
    assert third.headers[DUPLICATE_OF] == first_id
    assert client.file(first_id).json()["title"] == "Corrected title"
