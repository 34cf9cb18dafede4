"""A compressed upload body is refused (415) and drained as sent, never inflated.

aiohttp drains a refused body (up to 10 s) to keep the connection, and by default it
inflates a ``Content-Encoding: gzip`` body as it arrives, drained or not: 4.7 MB of gzip
made the server inflate 1 GiB of zeros (0.5 s of CPU) for nothing, and a denser one costs
more. CPU time is the whole process's, server thread included; the bomb is built before.
"""

from __future__ import annotations

import resource
import zlib

from tests.support.raw_http import exchange
from toolbox_uploader.server.embedded import ServerHandle


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def test_a_refused_gzip_bomb_is_not_inflated_while_it_is_drained(
        live_server: ServerHandle) -> None:
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)  # a gzip stream
    zeros = bytes(1024 * 1024)
    bomb = b"".join(packer.compress(zeros) for _ in range(1024)) + packer.flush()
    head = (
        "POST /api/v1/files/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {live_server.token}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\nContent-Encoding: gzip\r\n"
        f"Content-Length: {len(bomb)}\r\n\r\n"
    ).encode()
    before = _cpu_seconds()
    answer = exchange(live_server.url, head + bomb, seconds=15)
    spent = _cpu_seconds() - before
    assert answer.startswith(b"HTTP/1.1 415"), answer[:200]
    assert b"unsupported_encoding" in answer
    assert spent < 0.15, f"{spent:.2f} s of CPU for a refused body of {len(bomb)} bytes"
