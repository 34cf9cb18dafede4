"""What every tus handler needs: the upload's URL, looking it up, size limits, replies.

Lookups are per account: another account's upload is "not found" (404), never 403,
so that nobody learns which ids exist.
"""

from __future__ import annotations

import time

from aiohttp import web

from toolbox_uploader.core.sizes import human_size, sizes_apart
from toolbox_uploader.server import keys
from toolbox_uploader.server.accounts import Account
from toolbox_uploader.server.errors import ApiError
from toolbox_uploader.server.storage import ID_PATTERN
from toolbox_uploader.server.tus.complete import upload_store
from toolbox_uploader.server.tus.headers import TUS_VERSION, http_date
from toolbox_uploader.server.tus.store import EXPIRED, FAILED, RECEIVING, Upload

TUS_PREFIX = "/api/v1/storage/tus"
#: On the answer that completed an upload as a copy (and on its later HEADs and PATCHes):
#: the id of the stored file it is a copy of.
DUPLICATE_OF = "Toolbox-Duplicate-Of"


def upload_url(request: web.Request, upload_id: str) -> str:
    """Absolute URL of an upload as the client reached us; a path if its Host is odd."""
    path = f"{TUS_PREFIX}/{upload_id}"
    try:
        return str(request.url.with_path(path).with_query(None))
    except (ValueError, TypeError):
        return path


def not_found() -> ApiError:
    return ApiError(404, "upload_not_found", "There is no such upload.")


def path_id(request: web.Request) -> str:
    upload_id = request.match_info.get("upload_id", "")
    if not ID_PATTERN.match(upload_id):
        raise not_found()
    return upload_id


def load_upload(request: web.Request, account: Account, upload_id: str) -> Upload:
    """This account's upload, or 404; a failed or expired one is 410 with the reason."""
    upload = upload_store(request.app).get(account.id, upload_id)
    if upload is None:
        raise not_found()
    if upload.status == FAILED:
        failure = upload.failure or {}
        raise ApiError(
            410, str(failure.get("error", "upload_failed")),
            f"This upload failed: {failure.get('message', 'no reason recorded')}",
        )
    if upload.status == EXPIRED or upload.expired():
        raise ApiError(410, "upload_expired", "This upload expired before it was finished.")
    return upload


def content_type(request: web.Request) -> str:
    return request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


def check_size(request: web.Request, account: Account, length: int, category_max: int | None,
                reserve: bool) -> None:
    """413 when a declared length is over Tus-Max-Size, the category limit or the quota."""
    max_size = request.app[keys.CONFIG].max_size
    if length > max_size:
        raise ApiError(
            413, "too_large", f"Uploads are limited to {human_size(max_size)} (Tus-Max-Size).",
            {"Tus-Max-Size": str(max_size)},
        )
    if category_max is not None and length > category_max:
        raise ApiError(
            413, "too_large", f"This category accepts files up to {human_size(category_max)}."
        )
    available = request.app[keys.ACCOUNTS].available(account) if reserve else None
    if available is not None and length > available:
        needed, left = sizes_apart(length, available)
        raise ApiError(
            413, "quota_exceeded",
            f"The upload needs {needed} but only {left} are left in the quota "
            f"({human_size(length - available)} short).",
        )


#: When a client told there are too many unfinished uploads may try again (seconds).
UNFINISHED_RETRY_AFTER = 60


def room_for_unfinished(app: web.Application, account: Account) -> bool:
    """May the account hold one more unfinished upload? Also asked by a creation that
    was to complete in its request and did not (``whole.py``): what it would keep to be
    resumed counts like any other unfinished upload."""
    most = app[keys.CONFIG].max_unfinished_uploads
    return upload_store(app).unfinished_count(account.id, time.time()) < most


def check_room_for_unfinished(request: web.Request, account: Account) -> None:
    """429 when the account already holds as many unfinished uploads as the server keeps.

    429 with ``Retry-After``, not a refusal for good: a client that waits finds room once
    its running uploads finish, are cancelled, or expire."""
    if room_for_unfinished(request.app, account):
        return
    config = request.app[keys.CONFIG]
    raise ApiError(
        429, "too_many_unfinished_uploads",
        f"This account already has {config.max_unfinished_uploads:,} unfinished uploads, the "
        "most this server keeps. Finish or cancel some of them (unfinished uploads are "
        f"deleted after {_lifetime(config.upload_expiration)} without new data), then try "
        "again.",
        {"Retry-After": str(UNFINISHED_RETRY_AFTER)},
    )


def _lifetime(seconds: float) -> str:
    if seconds == 24 * 3600:
        return "a day"
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def reply(status: int, headers: dict[str, str] | None = None) -> web.Response:
    """A tus response: every one but OPTIONS carries ``Tus-Resumable``."""
    return web.Response(status=status, headers={**(headers or {}), "Tus-Resumable": TUS_VERSION})


def progress_headers(upload: Upload) -> dict[str, str]:
    headers = {"Upload-Offset": str(upload.offset)}
    if upload.status == RECEIVING and upload.expires_at is not None:
        headers["Upload-Expires"] = http_date(upload.expires_at)
    if upload.duplicate_of is not None:
        headers[DUPLICATE_OF] = upload.duplicate_of
    return headers


def created_location(request: web.Request, upload: Upload) -> str:
    """The ``Location`` of a creation: a copy that completed in its creation request is
    answered with the existing file's upload URL, so the client's id is that file's."""
    return upload_url(request, upload.duplicate_of or upload.id)
