"""At start-up: uploads that received their last byte but were never completed.

The offset reaches an upload's length only at the end of the request that completes it
(``receive.py``), but the server can still die between that commit and the completion
(validation, the move into storage). Such an upload would answer HEAD with offset equal
to its length for ever, and a tus client stops there, so the file would never be stored.
Holding its last byte back makes the client send that byte again, and that request
completes the upload as usual. Nothing else runs at start-up, so no request is mid-way.
"""

from __future__ import annotations

import logging
import os

from aiohttp import web

from toolbox_uploader.server import keys
from toolbox_uploader.server.tus.complete import upload_store

log = logging.getLogger(__name__)


def hold_back_unfinished(app: web.Application) -> int:
    """Step back one byte on each upload full but not completed; returns how many."""
    store = upload_store(app)
    storage = app[keys.STORAGE]
    count = 0
    for upload in store.full_but_receiving():
        assert upload.length is not None
        path = storage.upload_path(upload.id)
        try:
            if path.stat().st_size >= upload.length:
                os.truncate(path, upload.length - 1)
        except FileNotFoundError:
            pass  # the part file is gone: the next request finds it shorter and goes back
        store.commit_offset(upload, upload.length - 1)
        count += 1
    if count:
        log.warning("%d upload(s) had every byte but were not completed (the server "
                    "stopped); their last byte is asked for again", count)
    return count
