"""A stream from standard input that passes its limit stops going to the server at once,
not after the whole limit was sent to be refused and deleted. The real server behind a
pass-through proxy on loopback that counts the body bytes it forwards."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.fault_proxy import ThreadedFaultProxy
from toolbox_uploader.core.stream_upload import stream_upload
from toolbox_uploader.core.transfer_errors import TransferError
from toolbox_uploader.server.embedded import ServerHandle

MIB = 1024 * 1024


def test_an_endless_stream_is_stopped_before_the_limit_is_sent(
        live_server: ServerHandle, app_home: Path) -> None:
    port = urlsplit(live_server.url).port
    assert port is not None
    limit = 64 * MIB
    with ThreadedFaultProxy("127.0.0.1", port) as proxy, \
            open("/dev/zero", "rb", buffering=0) as zeros:
        with pytest.raises(TransferError) as refused:
            asyncio.run(asyncio.wait_for(stream_upload(
                zeros, server_url=proxy.url, endpoint=None, token=live_server.token,
                name="endless.bin", category="temporary", limit=limit), 60))
        sent = proxy.stats.body_bytes
    assert refused.value.code == "too_large"
    assert sent < limit / 2, sent  # stopped when the spool passed the limit
