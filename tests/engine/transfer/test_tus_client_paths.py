"""The tus client's recovery and error paths against a scriptable tus server."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import os
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.fault_proxy import FaultProxy
from tests.support.scripted_tus import ScriptedTus
from toolbox_uploader.core.hashing import HashState
from toolbox_uploader.core.rate_limit import RateLimiter
from toolbox_uploader.core.strategy import MIB, ChunkSizer
from toolbox_uploader.core.toolbox_api import ToolboxApi
from toolbox_uploader.core.transfer_errors import ErrorKind, TransferError, retry_delay
from toolbox_uploader.core.tus_client import TusClient

SIZE = 3 * MIB + 321


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "lesson.bin"
    path.write_bytes(os.urandom(SIZE))
    return path


def small_chunks() -> ChunkSizer:
    """1 MiB chunks that stay 1 MiB, so a test knows how many PATCHes to expect."""
    return ChunkSizer(initial=MIB, minimum=MIB, maximum=MIB)


async def start(client: TusClient, source: Path) -> tuple[str, HashState]:
    hasher = HashState()
    url, offset = await client.create(length=source.stat().st_size, metadata={"filename": "x"})
    assert offset == 0
    return url, hasher


async def upload(client: TusClient, url: str, source: Path, hasher: HashState,
                 offset: int = 0) -> int:
    return await client.upload_file(
        url, source, offset=offset, length=source.stat().st_size, hasher=hasher,
        on_progress=lambda _: None, chunk_sizer=small_chunks(),
    )


def upload_id(url: str) -> str:
    return url.rsplit("/", 1)[-1]


async def test_checksum_on_every_patch_and_hash_of_the_whole_file(
    scripted_tus: ScriptedTus, source: Path
) -> None:
    async with TusClient(scripted_tus.url) as client:
        url, hasher = await start(client, source)
        assert await upload(client, url, source, hasher) == SIZE
    data = source.read_bytes()
    assert scripted_tus.data(upload_id(url)) == data
    assert hasher.hexdigest() == hashlib.sha256(data).hexdigest()
    patches = [headers for method, headers, _ in scripted_tus.requests if method == "PATCH"]
    assert len(patches) == 4
    for headers in patches:
        name, value = headers["Upload-Checksum"].split(" ")
        start_at = int(headers["Upload-Offset"])
        chunk = data[start_at:start_at + int(headers["Content-Length"])]
        assert name == "sha256"
        assert base64.b64decode(value) == hashlib.sha256(chunk).digest()


async def test_sha1_when_the_server_lacks_sha256(scripted_tus: ScriptedTus, source: Path) -> None:
    scripted_tus.algorithms = "md5,sha1"
    async with TusClient(scripted_tus.url) as client:
        url, hasher = await start(client, source)
        await upload(client, url, source, hasher)
    patch = next(h for m, h, _ in scripted_tus.requests if m == "PATCH")
    assert patch["Upload-Checksum"].startswith("sha1 ")
    assert scripted_tus.data(upload_id(url)) == source.read_bytes()


async def test_a_460_resends_that_chunk(scripted_tus: ScriptedTus, source: Path) -> None:
    async with TusClient(scripted_tus.url) as client:
        url, hasher = await start(client, source)
        scripted_tus.script.append((460, {}))
        assert await upload(client, url, source, hasher) == SIZE
    offsets = [h["Upload-Offset"] for m, h, _ in scripted_tus.requests if m == "PATCH"]
    assert offsets[:2] == ["0", "0"]  # the refused chunk went again, from the same offset
    assert scripted_tus.data(upload_id(url)) == source.read_bytes()
    assert hasher.hexdigest() == hashlib.sha256(source.read_bytes()).hexdigest()


async def test_a_corrupted_byte_on_the_wire_is_caught_and_resent(
    scripted_tus: ScriptedTus, source: Path
) -> None:
    host, port = scripted_tus.url.split("//")[1].split("/")[0].split(":")
    async with FaultProxy(host, int(port), corrupt=1.0, max_faults=1, methods={"PATCH"}) as proxy:
        async with TusClient(proxy.url + "/files/") as client:
            url, hasher = await start(client, source)
            assert await upload(client, url, source, hasher) == SIZE
        assert proxy.stats.corrupted == 1
    assert scripted_tus.data(upload_id(url)) == source.read_bytes()


async def test_repeated_460_is_fatal(scripted_tus: ScriptedTus, source: Path) -> None:
    async with TusClient(scripted_tus.url) as client:
        url, hasher = await start(client, source)
        scripted_tus.script.extend([(460, {})] * 5)
        with pytest.raises(TransferError) as caught:
            await upload(client, url, source, hasher)
    assert caught.value.kind is ErrorKind.FATAL
    assert caught.value.status == 460
    assert scripted_tus.count("PATCH") == 3  # the first try and two re-sends, no more
    assert hasher.offset == 0


async def test_429_carries_retry_after_and_is_honoured(
    scripted_tus: ScriptedTus, source: Path
) -> None:
    async with TusClient(scripted_tus.url) as client:
        url, hasher = await start(client, source)
        scripted_tus.script.append((429, {"Retry-After": "1"}))
        started = time.monotonic()
        offset, attempt = 0, 0
        while True:  # what the engine does with a retryable error, bounded
            try:
                offset = await upload(client, url, source, hasher, offset)
                break
            except TransferError as error:
                assert error.kind is ErrorKind.TRANSIENT
                assert error.retry_after == 1.0
                assert hasher.offset == offset  # rolled back to what the server holds
                attempt += 1
                assert attempt < 3
                await asyncio.sleep(retry_delay(error, attempt, base=0.01))
                offset = (await client.head(url)).offset
        assert time.monotonic() - started >= 1.0
    assert offset == SIZE
    assert scripted_tus.data(upload_id(url)) == source.read_bytes()


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, ErrorKind.FATAL), (413, ErrorKind.FATAL), (415, ErrorKind.FATAL),
     (401, ErrorKind.AUTH), (403, ErrorKind.AUTH), (404, ErrorKind.RESTART),
     (410, ErrorKind.RESTART), (503, ErrorKind.TRANSIENT)],
)
async def test_errors_are_raised_classified_without_retrying(
    scripted_tus: ScriptedTus, source: Path, status: int, kind: ErrorKind
) -> None:
    async with TusClient(scripted_tus.url) as client:
        url, hasher = await start(client, source)
        scripted_tus.script.append((status, {}))
        with pytest.raises(TransferError) as caught:
            await upload(client, url, source, hasher)
    assert (caught.value.kind, caught.value.status) == (kind, status)
    assert caught.value.message == "scripted answer"
    assert scripted_tus.count("PATCH") == 1  # the client did not retry on its own


@pytest.mark.parametrize("status", [409, 423])
async def test_offset_race_and_lock_head_and_continue(
    scripted_tus: ScriptedTus, source: Path, status: int
) -> None:
    async with TusClient(scripted_tus.url) as client:
        url, hasher = await start(client, source)
        scripted_tus.script.append((status, {}))
        assert await upload(client, url, source, hasher) == SIZE
    assert scripted_tus.count("HEAD") == 1
    assert scripted_tus.data(upload_id(url)) == source.read_bytes()


async def test_a_stale_offset_is_corrected_by_the_server(
    scripted_tus: ScriptedTus, source: Path
) -> None:
    """The caller's offset is wrong (a lost answer): 409, HEAD, and on from the truth."""
    async with TusClient(scripted_tus.url) as client:
        url, hasher = await start(client, source)
        await client.upload_file(
            url, source, offset=0, length=MIB, hasher=hasher, on_progress=lambda _: None,
            chunk_sizer=small_chunks(),
        )
        assert await upload(client, url, source, hasher, offset=0) == SIZE
    assert scripted_tus.data(upload_id(url)) == source.read_bytes()
    assert hasher.hexdigest() == hashlib.sha256(source.read_bytes()).hexdigest()


async def test_unauthorized_options_is_auth(scripted_tus: ScriptedTus) -> None:
    scripted_tus.script_methods = frozenset({"OPTIONS"})
    scripted_tus.script.append((401, {}))
    async with TusClient(scripted_tus.url, token="wrong") as client:
        with pytest.raises(TransferError) as caught:
            await client.server_info()
    assert caught.value.kind is ErrorKind.AUTH
    assert scripted_tus.requests[0][1]["Authorization"] == "Bearer wrong"


async def test_unreachable_server_is_offline(unused_tcp_port: int) -> None:
    async with TusClient(f"http://127.0.0.1:{unused_tcp_port}/files/") as client:
        with pytest.raises(TransferError) as caught:
            await client.server_info()
    assert caught.value.kind is ErrorKind.OFFLINE


async def test_https_to_a_plain_http_port_is_fatal_not_offline(
    scripted_tus: ScriptedTus
) -> None:
    # Waiting would never help: the address should say http, not https.
    endpoint = scripted_tus.url.replace("http://", "https://", 1)
    async with TusClient(endpoint) as client:
        with pytest.raises(TransferError) as caught:
            await client.server_info()
    assert caught.value.kind is ErrorKind.FATAL
    assert "http or https" in caught.value.message


async def test_deferred_length_streams_a_growing_file(
    scripted_tus: ScriptedTus, tmp_path: Path
) -> None:
    growing = tmp_path / "recording.bin"
    growing.write_bytes(b"")
    pieces = [os.urandom(700_000) for _ in range(4)]
    done = threading.Event()

    def writer() -> None:  # a recorder appending to its file
        for piece in pieces:
            with open(growing, "ab") as handle:
                handle.write(piece)
            time.sleep(0.05)
        done.set()

    async with TusClient(scripted_tus.url) as client:
        url, _ = await client.create(length=None, metadata={"filename": "rec.bin"})
        assert (await client.head(url)).length is None
        hasher = HashState()
        thread = threading.Thread(target=writer)
        thread.start()
        final = await asyncio.wait_for(client.upload_file(
            url, growing, offset=0, length=None, hasher=hasher, on_progress=lambda _: None,
            chunk_sizer=small_chunks(), more_coming=lambda: not done.is_set(),
        ), timeout=20)
        thread.join()
        status = await client.head(url)
    data = b"".join(pieces)
    assert final == status.offset == status.length == len(data)
    assert scripted_tus.data(upload_id(url)) == data
    assert hasher.hexdigest() == hashlib.sha256(data).hexdigest()
    patches = [h for m, h, _ in scripted_tus.requests if m == "PATCH"]
    assert [h.get("Upload-Length") for h in patches].count(str(len(data))) == 1
    assert patches[-1].get("Upload-Length") == str(len(data))


async def test_creation_with_upload_and_terminate(
    scripted_tus: ScriptedTus, source: Path
) -> None:
    progress: list[int] = []
    async with TusClient(scripted_tus.url) as client:
        hasher = HashState()
        url, offset = await client.create(
            length=SIZE, metadata={"filename": "x"}, source=source, upload_bytes=SIZE,
            hasher=hasher, on_progress=progress.append,
        )
        assert offset == SIZE
        assert progress[-1] == SIZE and progress == sorted(progress)
        assert hasher.hexdigest() == hashlib.sha256(source.read_bytes()).hexdigest()
        assert scripted_tus.count("PATCH") == 0
        await client.terminate(url)
        await client.terminate(url)  # already gone: still fine
        with pytest.raises(TransferError) as caught:
            await client.head(url)
    assert caught.value.kind is ErrorKind.RESTART


async def test_pause_aborts_the_patch_and_returns_the_server_offset(
    scripted_tus: ScriptedTus, source: Path
) -> None:
    cancel = asyncio.Event()
    limiter = RateLimiter(2 * MIB)

    def on_progress(position: int) -> None:
        if position > MIB // 2:
            cancel.set()

    async with TusClient(scripted_tus.url) as client:
        url, hasher = await start(client, source)
        offset = await client.upload_file(
            url, source, offset=0, length=SIZE, hasher=hasher, on_progress=on_progress,
            chunk_sizer=ChunkSizer(initial=2 * MIB, minimum=MIB, maximum=2 * MIB),
            cancel=cancel, limiter=limiter,
        )
        assert offset < SIZE
        assert hasher.offset == offset == (await client.head(url)).offset
        cancel.clear()
        assert await upload(client, url, source, hasher, offset) == SIZE
    assert scripted_tus.data(upload_id(url)) == source.read_bytes()
    assert hasher.hexdigest() == hashlib.sha256(source.read_bytes()).hexdigest()


async def test_progress_is_frequent_on_a_slow_link(
    scripted_tus: ScriptedTus, tmp_path: Path
) -> None:
    path = tmp_path / "slow.bin"
    path.write_bytes(os.urandom(1_200_000))
    stamps: list[float] = []
    limiter = RateLimiter(1_000_000)  # about 1 MB/s for ~1.2 s
    async with TusClient(scripted_tus.url) as client:
        url, hasher = await start(client, path)
        started = time.monotonic()
        await client.upload_file(
            url, path, offset=0, length=path.stat().st_size, hasher=hasher,
            on_progress=lambda _: stamps.append(time.monotonic()), limiter=limiter,
        )
        elapsed = time.monotonic() - started
    assert elapsed >= 0.8  # the limit held
    assert len(stamps) / elapsed >= 4
    gaps = [b - a for a, b in zip([started, *stamps], stamps, strict=False)]
    assert max(gaps) < 0.5


async def test_progress_follows_the_link_not_the_socket_buffers(
    scripted_tus: ScriptedTus, tmp_path: Path
) -> None:
    """A 1 MB/s link: megabytes fit in the machine's socket buffers at once, but the bar
    must move with what the link carries, not jump ahead and then wait for the answer."""
    path = tmp_path / "slow.bin"
    path.write_bytes(os.urandom(3_000_000))
    target = urlsplit(scripted_tus.url)
    assert target.hostname is not None and target.port is not None
    seen: list[tuple[float, int, int]] = []  # (when, progress, bytes through the link)
    async with (FaultProxy(target.hostname, target.port, rate=1_000_000,
                           window=64 * 1024) as link,
                TusClient(link.url + "/files/") as client):
        url, hasher = await start(client, path)
        started = time.monotonic()
        await client.upload_file(
            url, path, offset=0, length=path.stat().st_size, hasher=hasher,
            on_progress=lambda n: seen.append((time.monotonic(), n, link.stats.body_bytes)),
            chunk_sizer=ChunkSizer(initial=4 * MIB, minimum=MIB, maximum=4 * MIB),
        )
        finished = time.monotonic()
    assert scripted_tus.count("PATCH") == 1
    assert scripted_tus.data(upload_id(url)) == path.read_bytes()
    assert finished - started >= 2.0  # the link's pace held
    ahead = max(shown - carried for _, shown, carried in seen)
    assert ahead <= 512 * 1024, f"progress ran {ahead} bytes ahead of the link"
    stamps = [started, *(when for when, _, _ in seen), finished]
    assert max(b - a for a, b in itertools.pairwise(stamps)) < 0.75


async def test_no_creation_with_upload_means_an_empty_create(
    scripted_tus: ScriptedTus, source: Path
) -> None:
    scripted_tus.extensions = "creation,termination"
    async with TusClient(scripted_tus.url) as client:
        hasher = HashState()
        url, offset = await client.create(
            length=SIZE, metadata={"filename": "x"}, source=source, upload_bytes=SIZE,
            hasher=hasher,
        )
        assert (offset, hasher.offset) == (0, 0)
        with pytest.raises(TransferError) as caught:  # no defer-length extension either
            await client.create(length=None, metadata={})
        assert caught.value.kind is ErrorKind.FATAL
        assert await upload(client, url, source, hasher) == SIZE
    assert "Upload-Checksum" not in next(h for m, h, _ in scripted_tus.requests if m == "PATCH")
    assert scripted_tus.data(upload_id(url)) == source.read_bytes()


async def test_a_server_without_the_tus_route_has_no_tus(scripted_tus: ScriptedTus) -> None:
    base = scripted_tus.url.split("/files/")[0]
    async with ToolboxApi(base, "token") as api:
        assert await api.tus_available() is False


async def test_an_address_without_tus_is_fatal_not_restart(scripted_tus: ScriptedTus) -> None:
    base = scripted_tus.url.split("/files/")[0]
    async with TusClient(base + "/nothing-here/") as client:
        with pytest.raises(TransferError) as caught:
            await client.server_info()
    assert (caught.value.kind, caught.value.status) == (ErrorKind.FATAL, 404)


async def test_pause_does_not_wait_for_a_stalled_server(
    scripted_tus: ScriptedTus, source: Path
) -> None:
    host, port = scripted_tus.url.split("//")[1].split("/")[0].split(":")
    cancel = asyncio.Event()
    async with FaultProxy(host, int(port), stall=1.0, stall_seconds=8, max_faults=1,
                          methods={"PATCH"}) as proxy, \
            TusClient(proxy.url + "/files/", timeout=30) as client:
        url, hasher = await start(client, source)
        asyncio.get_running_loop().call_later(0.3, cancel.set)
        started = time.monotonic()
        offset = await client.upload_file(
            url, source, offset=0, length=SIZE, hasher=hasher, on_progress=lambda _: None,
            chunk_sizer=small_chunks(), cancel=cancel,
        )
        assert time.monotonic() - started < 3
        assert offset == hasher.offset < SIZE
        assert proxy.stats.stalls == 1


async def test_a_server_that_stores_nothing_does_not_make_the_client_spin(
    scripted_tus: ScriptedTus, source: Path
) -> None:
    async with TusClient(scripted_tus.url) as client:
        url, hasher = await start(client, source)
        scripted_tus.script.extend([(204, {"Upload-Offset": "0"})] * 20)
        with pytest.raises(TransferError) as caught:
            await upload(client, url, source, hasher)
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert scripted_tus.count("PATCH") <= 6
    assert hasher.offset == 0
