"""An upload whose last byte has arrived is being completed (validated, moved into storage,
recorded): nothing that happens meanwhile may lose it or report it finished too early.

The validator is held at a gate, as a slow check (a big archive, a virus scan) holds it.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from toolbox_uploader.server import keys
from toolbox_uploader.server.app import create_app
from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.files_store import FileStore
from toolbox_uploader.server.finalize import IncomingFile, finalize
from toolbox_uploader.server.storage import Storage, new_id
from toolbox_uploader.server.tus import state as tus_state
from toolbox_uploader.server.validation_hook import ValidationOutcome, default_validator


class Gate:
    """A validator that waits until the test opens it (at most 5 s)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.left = threading.Event()

    def __call__(self, path: Path, category: str, filename: str) -> ValidationOutcome:
        self.entered.set()
        self.opened.wait(5)
        try:
            return default_validator(path, category, filename)
        finally:
            self.left.set()

    async def wait_entered(self) -> None:
        for _ in range(500):
            if self.entered.is_set():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the validator was never called")


@pytest.fixture
def gate(tus_config: ServerConfig) -> Gate:
    gate = Gate()
    tus_config.validator = gate
    return gate


@pytest.fixture
async def gated_client(aiohttp_client, tus_config: ServerConfig, gate: Gate) -> TestClient:
    client = await aiohttp_client(create_app(tus_config))
    yield client
    gate.opened.set()


async def test_a_newer_request_does_not_take_a_completing_upload_over(
        gated_client: TestClient, make_tus, gate: Gate, tus_config: ServerConfig,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The completing PATCH had received nothing "for a while" (its body was over), so a
    newer request for the upload cancelled it as if its client had gone silent: the
    first client's answer was a dropped connection, the part file was deleted under the
    validation, and the upload went back to offset 0."""
    monkeypatch.setattr(tus_state, "STALE_HOLD_SECONDS", 0.2)
    tus = make_tus(gated_client, gated_client.app[keys.DEFAULT_TOKEN])
    payload = tus.text(5000)
    url = await tus.create(len(payload))
    first = asyncio.create_task(tus.patch(url, 0, payload, expect=None))
    await gate.wait_entered()
    await asyncio.sleep(0.4)  # twice the time a silent holder may keep the lock
    newer = await tus.patch(url, len(payload) - 1, payload[-1:], expect=None)
    assert newer.status == 423, await newer.text()
    gate.opened.set()
    answer = await asyncio.wait_for(first, 5)
    assert answer.status == 204, await answer.text()
    stored = Storage(tus_config.data_dir).file_path(tus.upload_id(url))
    assert stored.read_bytes() == payload


async def test_head_during_the_completion_holds_the_last_byte_back(
        gated_client: TestClient, make_tus, gate: Gate, tus_config: ServerConfig) -> None:
    """HEAD said "every byte" while the file was still being checked; a client whose PATCH
    answer was lost stopped there, and never heard that the file was then refused."""
    tus = make_tus(gated_client, gated_client.app[keys.DEFAULT_TOKEN])
    payload = tus.text(5000)
    url = await tus.create(len(payload))
    first = asyncio.create_task(tus.patch(url, 0, payload, expect=None))
    await gate.wait_entered()
    head = await tus.head(url)
    assert head.headers["Upload-Offset"] == str(len(payload) - 1)
    assert head.headers["Cache-Control"] == "no-store"
    # Sending that byte again meanwhile is refused as busy, never written twice.
    await tus.patch(url, len(payload) - 1, payload[-1:], expect=423)
    gate.opened.set()
    assert (await asyncio.wait_for(first, 5)).status == 204
    head = await tus.head(url)
    assert head.headers["Upload-Offset"] == str(len(payload))
    # The client that sends the byte again now learns where the upload is: finished.
    late = await tus.patch(url, len(payload) - 1, payload[-1:], expect=409)
    assert late.headers["Upload-Offset"] == str(len(payload))
    stored = Storage(tus_config.data_dir).file_path(tus.upload_id(url))
    assert stored.read_bytes() == payload


async def test_a_cancelled_completion_still_stores_the_file(
        gated_client: TestClient, gate: Gate, tus_config: ServerConfig) -> None:
    """A completion cancelled half-way (the server stopping after its grace period)
    deleted the file its worker was still validating: the bytes were gone, and the
    worker's outcome was never heard."""
    app = gated_client.app
    storage = Storage(tus_config.data_dir)
    account = app[keys.ACCOUNTS].by_name(tus_config.default_account)
    assert account is not None
    payload = b"Notes for Monday.\n" * 100
    file_id = new_id()
    path = storage.upload_path(file_id)
    path.write_bytes(payload)
    incoming = IncomingFile(
        file_id=file_id, owner=account, path=path, filename="monday.txt", relative_path="",
        category="educational_content", size=len(payload),
        sha256=hashlib.sha256(payload).hexdigest(),
    )
    task = asyncio.create_task(finalize(app, incoming))
    await gate.wait_entered()
    task.cancel()
    await asyncio.sleep(0.1)
    gate.opened.set()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)  # the cancellation is passed on, once it is over
    deadline = time.monotonic() + 2
    while not gate.left.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    record = FileStore(app[keys.DATABASE]).get(account.id, file_id)
    assert record is not None and record.size == len(payload)
    assert storage.file_path(file_id).read_bytes() == payload
