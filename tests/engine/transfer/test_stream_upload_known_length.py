"""``upload -`` to a server without creation-defer-length waits for the end of the input
before creating anything: a Ctrl+C meanwhile, or an input over the limit, leaves nothing
on the server. The scripted tus server on loopback, offering no defer-length."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

import pytest

from tests.support.scripted_tus import ScriptedTus
from toolbox_uploader.core.stream_upload import WAITING_FOR_END, stream_upload
from toolbox_uploader.core.transfer_errors import TransferError

NO_DEFER = "creation,creation-with-upload,termination,checksum"


async def test_nothing_is_created_before_the_input_ends(scripted_tus: ScriptedTus) -> None:
    scripted_tus.extensions = NO_DEFER
    said: list[str] = []
    reading, writing = os.pipe()
    source = open(reading, "rb", buffering=0)  # noqa: SIM115 - closed below
    try:
        os.write(writing, b"x" * 10_000)  # within the pipe's buffer
        streaming = asyncio.ensure_future(stream_upload(
            source, server_url=None, endpoint=scripted_tus.url, token=None, name="rec.bin",
            category="temporary", notice=said.append))
        for _ in range(200):  # bounded: 2 s
            if said:
                break
            await asyncio.sleep(0.01)
        assert said == [WAITING_FOR_END]
        await asyncio.sleep(0.2)
        assert scripted_tus.count("POST") == 0  # the input goes on: nothing sent yet
        streaming.cancel()  # Ctrl+C
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(streaming, 5)
    finally:
        os.close(writing)  # the reader thread sees the end
    await asyncio.sleep(0.05)
    source.close()
    assert scripted_tus.count("POST") == 0
    assert not any(scripted_tus.directory.iterdir())


async def test_an_input_over_the_limit_is_refused_before_creation(
        scripted_tus: ScriptedTus) -> None:
    scripted_tus.extensions = NO_DEFER
    with pytest.raises(TransferError, match="larger than this category's limit"):
        await stream_upload(io.BytesIO(os.urandom(300_000)), server_url=None,
                            endpoint=scripted_tus.url, token=None, name="rec.bin",
                            category="temporary", limit=200_000, notice=lambda _m: None)
    assert scripted_tus.count("POST") == 0


async def test_the_whole_input_goes_with_its_length(scripted_tus: ScriptedTus,
                                                    tmp_path: Path) -> None:
    scripted_tus.extensions = NO_DEFER
    data = os.urandom(1_500_000)
    result = await stream_upload(io.BytesIO(data), server_url=None, endpoint=scripted_tus.url,
                                 token=None, name="rec.bin", category="temporary",
                                 notice=lambda _m: None)
    (upload,) = scripted_tus.lengths.items()
    assert upload[1] == len(data)  # declared at creation
    assert scripted_tus.data(upload[0]) == data
    assert result["size"] == len(data)
