"""At start-up: uploads that received their last byte but were never completed, and
part files that do not match their rows.

The offset reaches an upload's length only at the end of the request that completes it
(``receive.py``), but the server can still die between that commit and the completion
(validation, the move into storage). Such an upload would answer HEAD with offset equal
to its length for ever, and a tus client stops there, so the file would never be stored.
Holding its last byte back makes the client send that byte again, and that request
completes the upload as usual. Nothing else runs at start-up, so no request is mid-way.

A final (concatenated) upload takes no PATCH, so no byte can be asked for again: one
whose completion a crash cut (every part complete, the final still receiving) is
finished by the server itself, at start-up and at each clean-up round. Otherwise it
stayed so until its parts expired a day later, taking the client's bytes with them,
and a client that had its URL (the final made before its last part) waited for ever.
"""

from __future__ import annotations

import logging

from aiohttp import web

from toolbox_uploader.server import keys
from toolbox_uploader.server.errors import ApiError
from toolbox_uploader.server.tus.complete import (
    complete_final_if_ready,
    stranded_final,
    upload_store,
)
from toolbox_uploader.server.tus.state import STATE
from toolbox_uploader.server.tus.store import RECEIVING, hold_back_last_byte, reconcile

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


async def finish_stranded_finals(app: web.Application) -> int:
    """Complete every final upload left stranded (see ``complete.stranded_final``);
    returns how many were stored. A refusal is recorded on the final as when its client
    waits for it; a storage failure keeps the parts, for a later round or the client."""
    store = upload_store(app)
    owners = {account.id: account for account in app[keys.ACCOUNTS].all()}
    count = 0
    for final in store.receiving_finals():
        account = owners.get(final.owner)
        if account is None or not stranded_final(app, store, final):
            continue
        # No await since the check: nobody took the lock meanwhile.
        async with app[STATE].exclusive(final.id, wait=True):
            current = store.get(account.id, final.id)
            if current is None or current.status != RECEIVING:
                continue
            try:
                count += await complete_final_if_ready(app, account, current)
            except ApiError as exc:
                log.warning("stranded final upload %s: %s", final.id, exc.message)
    if count:
        log.warning("%d final upload(s) cut by a stop were completed", count)
    return count
