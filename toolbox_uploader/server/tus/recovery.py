"""At start-up: uploads that received their last byte but were never completed, and
part files that do not match their rows.

The offset reaches an upload's length only at the end of the request that completes it
(``receive.py``), but the server can still die between that commit and the completion
(validation, the move into storage). Such an upload would answer HEAD with offset equal
to its length for ever, and a tus client stops there, so the file would never be stored.
Holding its last byte back makes the client send that byte again, and that request
completes the upload as usual. Nothing else runs at start-up, so no request is mid-way.
"""

from __future__ import annotations

import logging

from aiohttp import web

from toolbox_uploader.server import keys
from toolbox_uploader.server.tus.complete import upload_store
from toolbox_uploader.server.tus.store import hold_back_last_byte, reconcile

log = logging.getLogger(__name__)


def hold_back_unfinished(app: web.Application) -> int:
    """Step back one byte on each upload full but not completed; returns how many."""
    store = upload_store(app)
    storage = app[keys.STORAGE]
    count = 0
    for upload in store.full_but_receiving():
        # A part file gone or shorter: the next request finds it and goes back further.
        hold_back_last_byte(store, upload, storage.upload_path(upload.id))
        count += 1
    if count:
        log.warning("%d upload(s) had every byte but were not completed (the server "
                    "stopped); their last byte is asked for again", count)
    return count


def reconcile_part_files(app: web.Application) -> int:
    """Make every unfinished upload's row agree with its part file; returns how many
    were repaired.

    PATCH repairs its own upload before writing, but a HEAD does not, and it is what a
    client asks first after a restart: a part file cut short or lost (a power cut, a
    restored backup, a clean-up of the data folder) must be reported at what it really
    holds, not at the offset the row remembers (the client's PATCH would only meet a
    409). Bytes past the offset were never confirmed and are cut off. One ``stat`` per
    upload, and an account holds at most ``max_unfinished_uploads``."""
    store = upload_store(app)
    storage = app[keys.STORAGE]
    count = 0
    for upload in store.receiving_with_parts():
        path = storage.upload_path(upload.id)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            size = -1
        if size != upload.offset:
            reconcile(store, upload, path)
            count += 1
    if count:
        log.warning("%d unfinished upload(s) did not match their part files; repaired",
                    count)
    return count
