"""The server's disk failing under a form upload (``POST /api/v1/files/upload``) is
answered as it is on the tus endpoint: 507 ``disk_full`` or 503 ``storage_unavailable``,
both with ``Retry-After``. It was 507 ``insufficient_storage`` without ``Retry-After``
(a client could not tell when to retry) and a read-only disk was a 500.

The full disk is real: the server's data folder on a 2 MB tmpfs (root only; skipped
elsewhere)."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from _api_support import Api, error_of

from tests.support.small_disk import small_disk_at
from toolbox_uploader.server.api.receive import storage_error
from toolbox_uploader.server.config import ServerConfig


@pytest.fixture
def small_disk(api_config: ServerConfig) -> Iterator[Path]:
    """The data folder on a 2 MB tmpfs, unmounted afterwards."""
    mount = api_config.data_dir
    mount.mkdir(parents=True)
    with small_disk_at(mount) as disk:
        yield disk


async def test_a_full_disk_under_a_form_upload_is_507_disk_full(
        small_disk: Path, api: Api) -> None:
    line = b"The quick brown fox jumps over the lazy dog. 0123456789\n"
    big = line * (2_500_000 // len(line))
    response = await api.upload(big)
    body = await response.json()
    assert response.status == 507, body
    assert error_of(body) == "disk_full" and response.headers["Retry-After"] == "30"
    assert list((small_disk / "tmp").iterdir()) == []  # nothing half-written left to take the room
    await api.stored(line * 10)  # the room is back


def test_disk_errors_while_receiving_are_told_like_tus() -> None:
    for number, status, code in ((errno.ENOSPC, 507, "disk_full"),
                                 (errno.EDQUOT, 507, "disk_full"),
                                 (errno.EROFS, 503, "storage_unavailable"),
                                 (errno.EIO, 503, "storage_unavailable")):
        error = storage_error(OSError(number, os.strerror(number)))
        assert (error.status, error.code) == (status, code)
        assert error.headers["Retry-After"] == "30"
    assert storage_error(OSError(errno.ENOENT, "gone")).status == 500
