"""One upload of unknown length from a pipe (``toolbox-uploader upload -``).

Standard input is copied to a spool file in the cache folder by a reader thread while a
tus upload with ``Upload-Defer-Length`` sends the file as it grows (the tus client waits
for more bytes while ``more_coming()`` is true). The spool is needed because a pipe cannot
be re-read after a cut connection; it is deleted at the end. Transient failures resume
from the server's offset; this upload is not in the session store, since the bytes of a
pipe are gone once the command ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import BinaryIO

from toolbox_uploader import paths
from toolbox_uploader.core.hashing import HashState
from toolbox_uploader.core.http_transport import HttpSession
from toolbox_uploader.core.scheduler import Action, decide
from toolbox_uploader.core.toolbox_api import ToolboxApi, file_link, tus_endpoint, upload_id
from toolbox_uploader.core.transfer_errors import TransferError
from toolbox_uploader.core.tus_client import TusClient

MAX_ATTEMPTS = 8
_PIECE = 1024 * 1024


def _spool(source: BinaryIO, target: Path, done: threading.Event) -> None:
    try:
        with open(target, "ab", buffering=0) as out:
            while True:
                data = source.read1(_PIECE) if hasattr(source, "read1") else source.read(_PIECE)
                if not data:
                    break
                out.write(data)
    finally:
        done.set()


async def stream_upload(source: BinaryIO, *, server_url: str | None, endpoint: str | None,
                        token: str | None, name: str, category: str) -> dict[str, object]:
    """Send everything readable from ``source``; returns ``{"url", "upload_url", "size",
    "sha256"}``."""
    tus_url = endpoint or tus_endpoint(server_url or "")
    spool_dir = paths.cache_dir() / "stdin"
    spool_dir.mkdir(parents=True, exist_ok=True)
    handle, name_on_disk = tempfile.mkstemp(dir=spool_dir, suffix=".part")
    os.close(handle)
    spool = Path(name_on_disk)
    eof = threading.Event()
    reader = threading.Thread(target=_spool, args=(source, spool, eof), daemon=True)
    reader.start()
    try:
        async with HttpSession() as http:
            tus = TusClient(tus_url, token=token, client=http)
            hasher = HashState()
            metadata = {"filename": name, "relativePath": name, "category": category}
            url, offset = await tus.create(length=None, metadata=metadata)
            attempt = 0
            while True:
                try:
                    offset = await tus.upload_file(
                        url, spool, offset=offset, length=None, hasher=hasher,
                        on_progress=lambda _n: None, more_coming=lambda: not eof.is_set())
                    break
                except TransferError as error:
                    attempt += 1
                    decision = decide(error, attempts=attempt, restarts=1)
                    if decision.action is not Action.RETRY or attempt >= MAX_ATTEMPTS:
                        raise
                    await asyncio.sleep(decision.delay or 0)
                    offset = (await tus.head(url)).offset
            digest = hasher.hexdigest()
            if server_url:
                await ToolboxApi(server_url, token, client=http.rest_client()).verify(
                    upload_id(url), sha256=digest, size=offset)
            # "url" is where the file is now, as ``file_url`` is for a file's upload.
            return {"url": file_link(server_url, url), "upload_url": url, "size": offset,
                    "sha256": digest}
    finally:
        reader.join(timeout=1)
        spool.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # only when no other spool is in there
            spool_dir.rmdir()


def upload_stdin(server_url: str | None, endpoint: str | None, token: str | None, *,
                 name: str, category: str, as_json: bool) -> int:
    """The CLI side: 0 when stored, 1 with the server's message otherwise."""
    try:
        result = asyncio.run(stream_upload(sys.stdin.buffer, server_url=server_url,
                                           endpoint=endpoint, token=token, name=name,
                                           category=category))
    except TransferError as error:
        if as_json:
            print(json.dumps({"event": "summary", "uploaded": 0, "exit_code": 1,
                              "error": {"code": error.code or error.kind.value,
                                        "message": error.message}}))
        else:
            print(f"toolbox-uploader upload: {name}: {error.message}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps({"event": "summary", "uploaded": 1, "exit_code": 0, **result}))
    else:
        print(f"{name}: {result['size']} bytes uploaded (sha256 {result['sha256']})")
    return 0
