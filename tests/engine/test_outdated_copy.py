"""An upload that completed before its file changed is deleted from the server before the
file is sent again, unless it was stored as a second name of another upload's file:
deleting by that name would delete the other upload's file.

``UploadJob`` against the real server: the file is touched at the very end, in
``on_verifying``, a moment a real edit can also hit."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from tests.engine.engine_support import random_file, server_files
from toolbox_uploader.core.session_store import ItemRecord
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.core.upload_job import (
    Connection,
    Outcome,
    SourceChanged,
    Target,
    Uploaded,
    UploadJob,
)
from toolbox_uploader.server.embedded import ServerHandle


def _send(server: ServerHandle, path: Path, item_id: int, *, touch: bool) -> Outcome:
    st = path.stat()
    record = ItemRecord(id=item_id, server_key=server.url, source_path=str(path),
                        relative_path=path.name, display_name=path.name, category="temporary",
                        state=ItemState.UPLOADING, size=st.st_size, mtime=st.st_mtime)

    def on_verifying() -> None:
        if touch:  # saved again, same bytes: only its time says it changed
            os.utime(path, (time.time(), time.time() + 5))

    async def run() -> Outcome:
        connection = Connection(Target.build(server.url, None, server.token, None), None)
        try:
            job = UploadJob(record, connection, on_progress=lambda _n: None,
                            on_url=lambda _u, _p: None, on_offset=lambda _o: None,
                            find_twin=lambda _s: None, has_twin_candidates=lambda _s: False)
            return await job.run(on_verifying)
        finally:
            await connection.aclose()

    return asyncio.run(run())


def test_an_outdated_upload_is_deleted_before_the_file_goes_again(
        live_server: ServerHandle, tmp_path: Path) -> None:
    path = random_file(tmp_path / "video.bin", 12 * 1024 * 1024)
    assert isinstance(_send(live_server, path, 1, touch=True), SourceChanged)
    assert server_files(live_server.url, live_server.token) == []


def test_a_copy_stored_as_a_second_name_never_deletes_the_first(
        live_server: ServerHandle, tmp_path: Path) -> None:
    path = random_file(tmp_path / "video.bin", 12 * 1024 * 1024)
    assert isinstance(_send(live_server, path, 1, touch=False), Uploaded)
    (first,) = server_files(live_server.url, live_server.token)
    # The queue was cleared; the same file goes again and completes as a second name.
    assert isinstance(_send(live_server, path, 2, touch=True), SourceChanged)
    assert [f["id"] for f in server_files(live_server.url, live_server.token)] == [first["id"]]
