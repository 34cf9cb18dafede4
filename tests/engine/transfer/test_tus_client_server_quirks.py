"""The tus client against servers that answer in unusual (or wrong) ways.

Each server here is the scripted one with one answer bent: a school's tus server may list
checksum algorithms in its own spelling, redirect its endpoint, or report an offset that
cannot be true. None of that may corrupt an upload, crash the client or read as nonsense.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from tests.support.scripted_tus import TUS, ScriptedTus
from toolbox_uploader.core.hashing import HashState
from toolbox_uploader.core.strategy import MIB, ChunkSizer
from toolbox_uploader.core.transfer_errors import ErrorKind, TransferError
from toolbox_uploader.core.tus_client import TusClient

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SIZE = 2 * MIB + 77


async def serve(aiohttp_server, handler: Handler) -> str:
    app = web.Application(client_max_size=64 * MIB)
    app.router.add_route("*", "/files/", handler)
    app.router.add_route("*", "/files/{upload_id}", handler)
    running = await aiohttp_server(app)
    return str(running.make_url("/files/"))


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "lesson.bin"
    path.write_bytes(os.urandom(SIZE))
    return path


async def send(client: TusClient, source: Path, hasher: HashState) -> tuple[str, int]:
    url, _ = await client.create(length=SIZE, metadata={"filename": "lesson.bin"})
    final = await client.upload_file(
        url, source, offset=0, length=SIZE, hasher=hasher, on_progress=lambda _: None,
        chunk_sizer=ChunkSizer(initial=MIB, minimum=MIB, maximum=MIB),
    )
    return url, final


def bend(server: ScriptedTus, method: str, header: str,
         value: Callable[[str], str]) -> Handler:
    """The scripted server, with ``header`` of its ``method`` answers rewritten."""
    async def handler(request: web.Request) -> web.StreamResponse:
        response = await server.handle(request)
        if request.method == method and header in response.headers:
            response.headers[header] = value(response.headers[header])
        return response
    return handler


@pytest.mark.parametrize("advertised", ["SHA256", "sha-256", " SHA-1 "])
async def test_checksums_use_the_algorithm_name_as_the_server_spells_it(
    aiohttp_server, tmp_path: Path, source: Path, advertised: str
) -> None:
    """A server that compares names exactly (as the spec lets it) answers 400 to any
    other spelling: the upload would fail at its first PATCH."""
    server = ScriptedTus(tmp_path / "store", checksum=False)  # checked here instead
    server.directory.mkdir()
    name = advertised.strip()
    used: list[str] = []

    async def strict(request: web.Request) -> web.StreamResponse:
        header = request.headers.get("Upload-Checksum")
        if header is not None:
            algorithm, _, value = header.partition(" ")
            body = await request.read()
            used.append(algorithm)
            real = hashlib.new(algorithm.replace("-", "").lower(), body).digest()
            if algorithm != name:
                return web.Response(status=400, text="unsupported checksum algorithm",
                                    headers=TUS)
            if base64.b64encode(real).decode() != value:
                return web.Response(status=460, headers=TUS)
        response = await server.handle(request)
        if request.method == "OPTIONS":
            response.headers["Tus-Checksum-Algorithm"] = f"md5,{advertised}"
        return response

    async with TusClient(await serve(aiohttp_server, strict)) as client:
        assert (await client.server_info()).checksum_algorithm is not None
        url, final = await send(client, source, HashState())
    assert final == SIZE
    assert used and set(used) == {name}
    assert server.data(url.rsplit("/", 1)[-1]) == source.read_bytes()


async def test_an_offset_past_the_bytes_sent_is_not_trusted(
    aiohttp_server, tmp_path: Path, source: Path
) -> None:
    """A PATCH answer that claims bytes that were never sent: continuing from there would
    leave a hole of unknown bytes in the stored file and call it done."""
    server = ScriptedTus(tmp_path / "store", checksum=False)
    server.directory.mkdir()
    handler = bend(server, "PATCH", "Upload-Offset", lambda v: str(int(v) + 1000))
    async with TusClient(await serve(aiohttp_server, handler)) as client:
        hasher = HashState()
        with pytest.raises(TransferError) as caught:
            await send(client, source, hasher)
    assert caught.value.kind is ErrorKind.RESTART
    assert "more" in caught.value.message
    assert hasher.offset <= MIB  # never past what the server really holds


async def test_a_creation_answer_past_the_body_is_not_trusted(
    aiohttp_server, tmp_path: Path, source: Path
) -> None:
    server = ScriptedTus(tmp_path / "store", checksum=False)
    server.directory.mkdir()
    handler = bend(server, "POST", "Upload-Offset", lambda v: str(int(v) + 10))
    async with TusClient(await serve(aiohttp_server, handler)) as client:
        with pytest.raises(TransferError) as caught:
            await client.create(length=SIZE, metadata={"filename": "x"}, source=source,
                                upload_bytes=1000, hasher=HashState())
    assert caught.value.kind is ErrorKind.RESTART


@pytest.mark.parametrize("offset", ["\u00b2", "99999999999999999999999"])
async def test_an_impossible_offset_on_head_is_a_clear_error(
    aiohttp_server, tmp_path: Path, source: Path, offset: str
) -> None:
    server = ScriptedTus(tmp_path / "store", checksum=False)
    server.directory.mkdir()
    handler = bend(server, "HEAD", "Upload-Offset", lambda _: offset)
    async with TusClient(await serve(aiohttp_server, handler)) as client:
        url, _ = await client.create(length=SIZE, metadata={"filename": "x"})
        with pytest.raises(TransferError) as caught:
            await client.head(url)
    assert caught.value.kind in (ErrorKind.RESTART, ErrorKind.TRANSIENT)
    assert "Upload-Offset" in caught.value.message


async def test_an_offset_with_spaces_is_read(aiohttp_server, tmp_path: Path,
                                             source: Path) -> None:
    server = ScriptedTus(tmp_path / "store", checksum=False)
    server.directory.mkdir()
    handler = bend(server, "PATCH", "Upload-Offset", lambda v: f"  {v} ")
    async with TusClient(await serve(aiohttp_server, handler)) as client:
        _, final = await send(client, source, HashState())
    assert final == SIZE
    assert server.count("HEAD") == 0  # read from the answer, not asked again


async def test_a_max_size_below_the_file_is_refused_in_the_teachers_units(
    aiohttp_server, tmp_path: Path
) -> None:
    server = ScriptedTus(tmp_path / "store")
    server.directory.mkdir()

    async def limited(request: web.Request) -> web.StreamResponse:
        response = await server.handle(request)
        if request.method == "OPTIONS":
            response.headers["Tus-Max-Size"] = "5000000"
        return response

    async with TusClient(await serve(aiohttp_server, limited)) as client:
        with pytest.raises(TransferError) as caught:
            await client.create(length=15_000_000, metadata={"filename": "film.mp4"})
    assert caught.value.kind is ErrorKind.FATAL
    assert "15.0 MB" in caught.value.message and "5.0 MB" in caught.value.message
    assert "bytes" not in caught.value.message
    assert server.count("POST") == 0  # refused before anything was sent


async def test_a_redirected_endpoint_names_the_new_address(aiohttp_server) -> None:
    async def moved(request: web.Request) -> web.StreamResponse:
        return web.Response(status=301, headers={"Location": "https://school.example/files/"})

    async with TusClient(await serve(aiohttp_server, moved)) as client:
        with pytest.raises(TransferError) as caught:
            await client.server_info()
    assert caught.value.kind is ErrorKind.FATAL
    assert "https://school.example/files/" in caught.value.message


@pytest.mark.parametrize("answer", [
    web.Response(status=501, text="Unsupported method ('OPTIONS')"),  # python -m http.server
    web.Response(status=200, headers={"Allow": "GET, HEAD, OPTIONS"}),  # any web server
])
async def test_a_web_server_that_is_not_tus_is_named_as_such(aiohttp_server,
                                                            answer: web.Response) -> None:
    async def not_tus(request: web.Request) -> web.StreamResponse:
        return answer

    async with TusClient(await serve(aiohttp_server, not_tus)) as client:
        with pytest.raises(TransferError) as caught:
            await client.server_info()
    assert caught.value.kind is ErrorKind.FATAL
    assert caught.value.message.startswith("No tus server answers at ")


async def test_resuming_where_the_server_claims_more_than_the_file_starts_over(
    aiohttp_server, tmp_path: Path, source: Path
) -> None:
    """HEAD says more bytes than the file has, and leaves out ``Upload-Length``: reading on
    from there used to fail on the file's end ("Unexpected error: EOFError")."""
    from toolbox_uploader.core.session_store import ItemRecord
    from toolbox_uploader.core.states import ItemState
    from toolbox_uploader.core.upload_job import Connection, SourceChanged, Target, UploadJob

    server = ScriptedTus(tmp_path / "store", checksum=False)
    server.directory.mkdir()

    async def handler(request: web.Request) -> web.StreamResponse:
        response = await server.handle(request)
        if request.method == "HEAD":
            response.headers["Upload-Offset"] = str(SIZE + 1000)
            response.headers.popall("Upload-Length", None)
        return response

    endpoint = await serve(aiohttp_server, handler)
    async with TusClient(endpoint) as client:
        url, _ = await client.create(length=SIZE, metadata={"filename": "lesson.bin"})
    st = source.stat()
    record = ItemRecord(id=1, server_key=endpoint, source_path=str(source),
                        relative_path=source.name, display_name=source.name,
                        category="temporary", state=ItemState.UPLOADING, size=st.st_size,
                        mtime=st.st_mtime, upload_url=url)
    connection = Connection(Target.build(None, endpoint, None, None), None)
    try:
        job = UploadJob(record, connection, on_progress=lambda _n: None,
                        on_url=lambda _u, _p: None, on_offset=lambda _o: None,
                        find_twin=lambda _s: None, has_twin_candidates=lambda _s: False)
        outcome = await job.run(lambda: None)
    finally:
        await connection.aclose()
    assert isinstance(outcome, SourceChanged) and outcome.change == "length"
