"""The tus client against our real server on loopback, end to end."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.support.fault_proxy import FaultProxy
from tests.support.resume_loop import upload_resuming
from toolbox_uploader.core.hashing import HashState, file_sha256
from toolbox_uploader.core.strategy import MIB, ChunkSizer
from toolbox_uploader.core.toolbox_api import ToolboxApi, tus_endpoint, upload_id
from toolbox_uploader.core.transfer_errors import ErrorKind, TransferError
from toolbox_uploader.core.tus_client import TusClient
from toolbox_uploader.server.embedded import ServerHandle

# Random bytes: the server validates MIME types per category; "temporary" takes any
# file that is not executable.
CATEGORY = "temporary"


# Random bytes can start with a program's magic number (libmagic then says "a program"
# and the server rightly refuses it); a fixed neutral header keeps them plain data.
HEADER = b"\x00toolbox transfer test data\x00" * 4


def make_file(path: Path, size: int) -> Path:
    path.write_bytes((HEADER + os.urandom(size))[:size])
    return path


def metadata(path: Path, **extra: str) -> dict[str, str]:
    return {"filename": path.name, "filetype": "application/octet-stream",
            "relativePath": f"unit/{path.name}", "category": CATEGORY, **extra}


async def content(api: ToolboxApi, file_id: str) -> bytes:
    response = await api._client.get(
        f"{api.base_url}/api/v1/files/{file_id}/content", headers=api._headers
    )
    assert response.status_code == 200
    return response.content


async def test_small_file_in_one_creation_request(
    live_server: ServerHandle, tmp_path: Path
) -> None:
    source = make_file(tmp_path / "notes.bin", 300_000)
    digest = file_sha256(source)
    async with TusClient(tus_endpoint(live_server.url), token=live_server.token) as client, \
            ToolboxApi(live_server.url, live_server.token) as api:
        info = await client.server_info()
        assert {"creation-with-upload", "checksum", "termination"} <= info.extensions
        hasher = HashState()
        url, offset = await client.create(
            length=300_000, metadata=metadata(source, sha256=digest), source=source,
            upload_bytes=300_000, hasher=hasher, on_progress=lambda _: None,
        )
        assert offset == 300_000
        assert hasher.hexdigest() == digest
        record = await api.verify(upload_id(url), sha256=digest, size=300_000)
        assert record["relative_path"] == "unit/notes.bin"
        assert await content(api, upload_id(url)) == source.read_bytes()


async def test_small_file_sent_from_memory(live_server: ServerHandle, tmp_path: Path) -> None:
    """Bytes already read (at validation) are sent as they are, hashed and reported."""
    source = make_file(tmp_path / "notes.bin", 120_000)
    checked = source.read_bytes()
    source.write_bytes(bytes(reversed(checked)))  # the file on disk is not read again
    digest = hashlib.sha256(checked).hexdigest()
    progress: list[int] = []
    async with TusClient(tus_endpoint(live_server.url), token=live_server.token) as client, \
            ToolboxApi(live_server.url, live_server.token) as api:
        hasher = HashState()
        url, offset = await client.create(
            length=120_000, metadata=metadata(source, sha256=digest), source=source,
            upload_bytes=120_000, hasher=hasher, on_progress=progress.append, content=checked,
        )
        # As the peer takes them (part of it first, on a busy machine), ending at the answer.
        assert offset == 120_000 and progress[-1] == 120_000
        assert progress == sorted(set(progress))
        assert hasher.hexdigest() == digest
        assert await content(api, upload_id(url)) == checked


async def test_medium_file_in_several_checksummed_patches(
    live_server: ServerHandle, tmp_path: Path
) -> None:
    source = make_file(tmp_path / "video.bin", 5 * MIB + 77)
    progress: list[int] = []
    async with TusClient(tus_endpoint(live_server.url), token=live_server.token) as client, \
            ToolboxApi(live_server.url, live_server.token) as api:
        hasher = HashState()
        url, _ = await client.create(length=5 * MIB + 77, metadata=metadata(source))
        final = await client.upload_file(
            url, source, offset=0, length=5 * MIB + 77, hasher=hasher,
            on_progress=progress.append,
            chunk_sizer=ChunkSizer(initial=MIB, minimum=MIB, maximum=MIB),
        )
        assert final == 5 * MIB + 77
        assert progress[-1] == final
        await api.verify(upload_id(url), sha256=hasher.hexdigest(), size=final)
        assert await content(api, upload_id(url)) == source.read_bytes()


@pytest.mark.parametrize("size", [2 * MIB + 5, 2 * MIB])  # the second ends on a chunk edge
async def test_deferred_length_upload(
    live_server: ServerHandle, tmp_path: Path, size: int
) -> None:
    source = make_file(tmp_path / "stream.bin", size)
    async with TusClient(tus_endpoint(live_server.url), token=live_server.token) as client, \
            ToolboxApi(live_server.url, live_server.token) as api:
        hasher = HashState()
        url, _ = await client.create(length=None, metadata=metadata(source))
        final = await client.upload_file(
            url, source, offset=0, length=None, hasher=hasher, on_progress=lambda _: None,
            chunk_sizer=ChunkSizer(initial=MIB, minimum=MIB, maximum=MIB),
        )
        assert final == size
        await api.verify(upload_id(url), sha256=hasher.hexdigest(), size=final)


async def test_terminate_removes_the_upload(live_server: ServerHandle, tmp_path: Path) -> None:
    source = make_file(tmp_path / "big.bin", 2 * MIB)
    async with TusClient(tus_endpoint(live_server.url), token=live_server.token) as client:
        url, _ = await client.create(
            length=4 * MIB, metadata=metadata(source), source=source, upload_bytes=2 * MIB,
            hasher=HashState(),
        )
        await client.terminate(url)
        with pytest.raises(TransferError) as caught:
            await client.head(url)
    assert caught.value.kind is ErrorKind.RESTART


async def test_wrong_token_is_auth(live_server: ServerHandle) -> None:
    async with TusClient(tus_endpoint(live_server.url), token="not-a-token") as client:
        with pytest.raises(TransferError) as caught:
            await client.create(length=10, metadata={"filename": "a.bin"})
    assert caught.value.kind is ErrorKind.AUTH


async def test_declared_sha256_mismatch_is_reported(
    live_server: ServerHandle, tmp_path: Path
) -> None:
    """The server refuses a completed file whose bytes do not match the declared hash."""
    source = make_file(tmp_path / "a.bin", 1000)
    async with TusClient(tus_endpoint(live_server.url), token=live_server.token) as client:
        with pytest.raises(TransferError) as caught:
            await client.create(
                length=1000, metadata=metadata(source, sha256="0" * 64), source=source,
                upload_bytes=1000, hasher=HashState(),
            )
    assert caught.value.kind is ErrorKind.RESTART


async def test_end_to_end_check_catches_a_different_file(
    live_server: ServerHandle, tmp_path: Path
) -> None:
    source = make_file(tmp_path / "a.bin", 1000)
    async with TusClient(tus_endpoint(live_server.url), token=live_server.token) as client, \
            ToolboxApi(live_server.url, live_server.token) as api:
        url, _ = await client.create(
            length=1000, metadata=metadata(source), source=source, upload_bytes=1000,
        )
        with pytest.raises(TransferError) as caught:
            await api.verify(upload_id(url), sha256=hashlib.sha256(b"other").hexdigest(),
                             size=1000)
    assert caught.value.kind is ErrorKind.RESTART


async def test_resume_after_cut_connections_resends_at_most_a_chunk(
    live_server: ServerHandle, tmp_path: Path
) -> None:
    size = 12 * MIB + 3
    chunk = 2 * MIB
    source = make_file(tmp_path / "cut.bin", size)
    port = live_server.port
    async with FaultProxy("127.0.0.1", port, reset=0.5, truncate=0.2, seed=7, max_faults=4,
                          methods={"PATCH"}) as proxy:
        async with TusClient(tus_endpoint(proxy.url), token=live_server.token) as client, \
                ToolboxApi(live_server.url, live_server.token) as api:
            hasher = HashState()
            url, _ = await client.create(length=size, metadata=metadata(source))
            offset = await upload_resuming(client, url, source, size=size, hasher=hasher,
                                           chunk=chunk)
            assert offset == size
            await api.verify(upload_id(url), sha256=hasher.hexdigest(), size=size)
        faults = proxy.stats.resets + proxy.stats.truncated_requests
        assert faults >= 2
        resent = proxy.stats.body_bytes - size
        assert 0 <= resent <= faults * chunk  # each cut costs at most the chunk in flight
    assert hasher.hexdigest() == hashlib.sha256(source.read_bytes()).hexdigest()


async def test_direct_upload_without_tus(live_server: ServerHandle, tmp_path: Path) -> None:
    source = make_file(tmp_path / "sheet.bin", 20_000)
    digest = file_sha256(source)
    async with ToolboxApi(live_server.url, live_server.token) as api:
        assert await api.tus_available()
        record = await api.direct_upload(
            source, filename="sheet.bin", relative_path="unit/sheet.bin", category=CATEGORY,
            sha256=digest,
        )
        assert record["sha256"] == digest and record["size"] == 20_000
        assert await content(api, record["id"]) == source.read_bytes()
        with pytest.raises(TransferError) as caught:
            await api.direct_upload(
                source, filename="sheet.bin", relative_path="unit/sheet.bin",
                category=CATEGORY, sha256="1" * 64,
            )
        assert caught.value.kind is ErrorKind.RESTART


async def test_corrupted_bytes_get_460_and_are_resent(
    live_server: ServerHandle, tmp_path: Path
) -> None:
    size = 3 * MIB
    source = make_file(tmp_path / "noisy.bin", size)
    proxy = FaultProxy("127.0.0.1", live_server.port, corrupt=1.0, max_faults=2,
                       methods={"PATCH"}, seed=2)
    async with proxy, TusClient(tus_endpoint(proxy.url), token=live_server.token) as client, \
            ToolboxApi(live_server.url, live_server.token) as api:
        hasher = HashState()
        url, _ = await client.create(length=size, metadata=metadata(source))
        final = await client.upload_file(
            url, source, offset=0, length=size, hasher=hasher, on_progress=lambda _: None,
            chunk_sizer=ChunkSizer(initial=MIB, minimum=MIB, maximum=MIB),
        )
        assert final == size
        assert proxy.stats.corrupted == 2
        await api.verify(upload_id(url), sha256=hasher.hexdigest(), size=size)
        assert await content(api, upload_id(url)) == source.read_bytes()


async def test_parallel_parts_concatenated(live_server: ServerHandle, tmp_path: Path) -> None:
    source = make_file(tmp_path / "parts.bin", 3 * MIB + 11)
    data = source.read_bytes()
    halves = [tmp_path / "a.part", tmp_path / "b.part"]
    halves[0].write_bytes(data[: len(data) // 2])
    halves[1].write_bytes(data[len(data) // 2:])
    async with TusClient(tus_endpoint(live_server.url), token=live_server.token) as client, \
            ToolboxApi(live_server.url, live_server.token) as api:
        assert "concatenation" in (await client.server_info()).extensions
        urls = []
        for half in halves:
            url, offset = await client.create(
                length=half.stat().st_size, metadata={}, partial=True, source=half,
                upload_bytes=half.stat().st_size, hasher=HashState(),
            )
            assert offset == half.stat().st_size
            urls.append(url)
        final = await client.concatenate(urls, metadata(source))
        await api.verify(upload_id(final), sha256=hashlib.sha256(data).hexdigest(),
                         size=len(data))
        assert await content(api, upload_id(final)) == data
