"""A progress WebSocket that its client closes leaves no task behind.

The relay waits on two tasks, the client's next message and the next progress event; a
client that closed (the usual end of a page, or of a tab) left the event task pending
for good, one per connection: memory any client could grow by opening and closing
sockets, and an asyncio "Task was destroyed but it is pending!" error in the server's
log for each when it was collected."""

from __future__ import annotations

import asyncio
import base64
import gc
import logging
import time

import pytest
from _api_support import Api


def _waiting_relays() -> list[asyncio.Task[object]]:
    """The tasks still waiting for a progress event (``queue.get``)."""
    return [task for task in asyncio.all_tasks()
            if getattr(task.get_coro(), "__qualname__", "") == "Queue.get"]


@pytest.mark.parametrize("read_first", [True, False])
async def test_closed_progress_sockets_leave_no_task(
        api: Api, caplog: pytest.LogCaptureFixture, read_first: bool) -> None:
    resp = await api.client.post("/api/v1/storage/tus/", headers={
        **api.headers, "Tus-Resumable": "1.0.0", "Upload-Length": "5000",
        "Upload-Metadata": "filename " + base64.b64encode(b"plan.txt").decode()})
    assert resp.status == 201, await resp.text()
    upload_id = resp.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    for _ in range(5):
        ws = await api.client.ws_connect(f"/ws/upload/{upload_id}", headers=api.headers)
        if read_first:
            message = await asyncio.wait_for(ws.receive_json(), 5)
            assert message["data"]["status"] == "uploading"
        await ws.close()
    caplog.set_level(logging.ERROR, logger="asyncio")
    deadline = time.monotonic() + 3  # the server sees each close when it reads it
    while _waiting_relays() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert _waiting_relays() == []
    gc.collect()
    assert "Task was destroyed but it is pending" not in caplog.text
