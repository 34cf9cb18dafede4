"""A download whose client stops reading is cut after the idle timeout, not held forever.

aiohttp has no send timeout and the kernel probes a zero receive window for ever, so a
client that asked for a large file and never read it held the handler, the open file
and the connection indefinitely (a 40 MB download was still pending after 90 s here).
"""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest
from _api_support import Api

from toolbox_uploader.server.config import ServerConfig

IDLE = 1.0
SIZE = 16 * 1024 * 1024


@pytest.fixture
def api_config(server_config: ServerConfig) -> ServerConfig:
    server_config.options["progress_interval"] = 0.0
    server_config.options["tus_idle_timeout"] = IDLE
    return server_config


@pytest.mark.skipif(not hasattr(socket, "TCP_USER_TIMEOUT"), reason="Linux socket option")
async def test_a_download_nobody_reads_is_cut(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    line = b"A line of plain text for a long worksheet.\n"
    stored = await api.stored((line * (SIZE // len(line) + 1))[:SIZE], "long.txt",
                              category="temporary")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a window that shuts soon
    sock.connect((api.client.host, api.client.port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    writer.write(
        f"GET /api/v1/files/{stored['id']}/content HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {api.token}\r\n\r\n".encode())
    await writer.drain()
    await asyncio.sleep(IDLE + 3)  # the stream stops reading once its small buffer is full
    received, ended = 0, False
    try:
        async with asyncio.timeout(10):
            while piece := await reader.read(1 << 20):
                received += len(piece)
        ended = True
    except ConnectionResetError:
        ended = True
    except TimeoutError:
        pass  # still being sent: the server was waiting on this reader all along
    finally:
        writer.close()
    assert ended, "the server was still sending to a client that had stopped reading"
    assert received < SIZE  # cut, not the whole file delivered late
    # The server goes on serving.
    health = await api.client.get("/healthz")
    assert health.status == 200
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert not noisy, [r.getMessage()[:200] for r in noisy]  # a cut reader is no error
