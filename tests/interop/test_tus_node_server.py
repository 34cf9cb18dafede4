"""Our tus client against an independent server: npm ``@tus/server`` with ``@tus/file-store``.

@tus/server offers neither checksum nor concatenation, so this is also the "generic tus
1.0 server" path: no per-request checksums, integrity from the client's own hash only.
"""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fault_proxy import FaultProxy
from tests.support.payloads import write_blob
from tests.support.resume_loop import upload_resuming
from tests.support.tus_node import node_available, tus_node_server
from toolbox_uploader.core.hashing import HashState
from toolbox_uploader.core.strategy import MIB, ChunkSizer
from toolbox_uploader.core.transfer_errors import ErrorKind, TransferError
from toolbox_uploader.core.tus_client import TusClient, decode_metadata, encode_metadata

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not node_available(), reason="Node and tests/interop/node_modules needed"),
]


@pytest.fixture(scope="module")
def node_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tus-node-store")


@pytest.fixture(scope="module")
def node_endpoint(node_store: Path) -> Iterator[str]:
    with tus_node_server(node_store) as url:
        yield url


def stored(store: Path, url: str) -> bytes:
    return (store / url.rstrip("/").rsplit("/", 1)[-1]).read_bytes()


def test_metadata_round_trip() -> None:
    values = {"filename": "Übung 3, Teil 2.pdf", "relativePath": "Klasse 7a/Übung.pdf", "x": ""}
    assert decode_metadata(encode_metadata(values)) == values
    with pytest.raises(ValueError):
        encode_metadata({"bad key": "v"})


async def test_server_info_and_small_upload(node_endpoint: str, node_store: Path,
                                            tmp_path: Path) -> None:
    source = write_blob(tmp_path / "small.bin", 200_000)
    async with TusClient(node_endpoint) as client:
        info = await client.server_info()
        assert "creation-with-upload" in info.extensions
        assert info.checksum_algorithm is None
        hasher = HashState()
        url, offset = await client.create(
            length=200_000, metadata={"filename": "small.bin", "relativePath": "a/small.bin"},
            source=source, upload_bytes=200_000, hasher=hasher,
        )
        assert offset == 200_000
        status = await client.head(url)
        assert status.metadata["relativePath"] == "a/small.bin"
    assert stored(node_store, url) == source.read_bytes()
    assert hasher.hexdigest() == hashlib.sha256(source.read_bytes()).hexdigest()


async def test_chunked_and_deferred_uploads(node_endpoint: str, node_store: Path,
                                            tmp_path: Path) -> None:
    source = write_blob(tmp_path / "medium.bin", 4 * MIB + 9)
    async with TusClient(node_endpoint) as client:
        for length in (4 * MIB + 9, None):
            hasher = HashState()
            url, _ = await client.create(length=length, metadata={"filename": "m.bin"})
            final = await client.upload_file(
                url, source, offset=0, length=length, hasher=hasher, on_progress=lambda _: None,
                chunk_sizer=ChunkSizer(initial=MIB, minimum=MIB, maximum=MIB),
            )
            assert final == 4 * MIB + 9
            assert (await client.head(url)).offset == final
            assert (await client.head(url)).length == final
            assert stored(node_store, url) == source.read_bytes()
            assert hasher.hexdigest() == hashlib.sha256(source.read_bytes()).hexdigest()


async def test_terminate(node_endpoint: str, tmp_path: Path) -> None:
    async with TusClient(node_endpoint) as client:
        url, _ = await client.create(length=1000, metadata={"filename": "t.bin"})
        await client.terminate(url)
        with pytest.raises(TransferError) as caught:
            await client.head(url)
    assert caught.value.kind is ErrorKind.RESTART


async def test_resume_after_cut_connections(node_endpoint: str, node_store: Path,
                                            tmp_path: Path) -> None:
    size, chunk = 10 * MIB + 1, 2 * MIB
    source = write_blob(tmp_path / "cut.bin", size)
    port = int(node_endpoint.split(":")[2].split("/")[0])
    async with FaultProxy("127.0.0.1", port, reset=0.4, truncate=0.3, seed=3, max_faults=4,
                          methods={"PATCH"}) as proxy:
        async with TusClient(proxy.url + "/files/") as client:
            hasher = HashState()
            url, _ = await client.create(length=size, metadata={"filename": "cut.bin"})
            offset = await upload_resuming(client, url, source, size=size, hasher=hasher,
                                           chunk=chunk)
        faults = proxy.stats.resets + proxy.stats.truncated_requests
        assert faults >= 2
        assert 0 <= proxy.stats.body_bytes - size <= faults * chunk
    assert offset == size
    assert stored(node_store, url) == source.read_bytes()
    assert hasher.hexdigest() == hashlib.sha256(source.read_bytes()).hexdigest()


async def test_memory_stays_flat_for_a_large_file(node_endpoint: str, node_store: Path,
                                                  tmp_path: Path) -> None:
    size = 64 * MIB
    source = tmp_path / "large.bin"
    with open(source, "wb") as handle:  # sparse-ish: a random block every 4 MiB
        for start in range(0, size, 4 * MIB):
            handle.seek(start)
            handle.write(os.urandom(4096))
        handle.truncate(size)
    async with TusClient(node_endpoint) as client:
        await client.server_info()
        hasher = HashState()
        url, _ = await client.create(length=size, metadata={"filename": "large.bin"})
        tracemalloc.start()
        try:
            final = await client.upload_file(
                url, source, offset=0, length=size, hasher=hasher, on_progress=lambda _: None,
                chunk_sizer=ChunkSizer(initial=32 * MIB, maximum=50 * MIB),
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert final == size
    assert peak < 6 * MIB, f"peak Python allocations {peak / MIB:.1f} MiB"
    assert stored(node_store, url) == source.read_bytes()



async def test_deferred_length_ending_on_a_chunk_edge(node_endpoint: str, node_store: Path,
                                                      tmp_path: Path) -> None:
    source = write_blob(tmp_path / "edge.bin", 2 * MIB)
    async with TusClient(node_endpoint) as client:
        url, _ = await client.create(length=None, metadata={"filename": "edge.bin"})
        final = await client.upload_file(
            url, source, offset=0, length=None, hasher=HashState(), on_progress=lambda _: None,
            chunk_sizer=ChunkSizer(initial=MIB, minimum=MIB, maximum=MIB),
        )
        status = await client.head(url)
    assert final == status.offset == status.length == 2 * MIB
    assert stored(node_store, url) == source.read_bytes()
