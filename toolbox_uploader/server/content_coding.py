"""Upload bodies are taken as they are sent: a ``Content-Encoding`` on one is a 415.

aiohttp inflates a ``gzip``/``deflate`` request body as it arrives, before a handler
sees a byte. For tus that splits the offsets: the client counts the bytes it sent, the
server the inflated ones, and resuming from the server's offset spliced compressed bytes
onto inflated ones, a corrupt file stored as complete. For a form it is a lever: a few
MB of zeros made the server inflate, write and hash gigabytes (a batch drains each file
that is too large up to ``Tus-Max-Size``). No tus client, browser form or our own client
compresses an upload. The answer closes the connection; aiohttp still drains the refused
body for up to 10 s, which is why the server's runner (``lifecycle.make_runner``) turns
its inflating off: drained as it was sent, a bomb costs no more than its own bytes.
"""

from __future__ import annotations

from aiohttp import web

from toolbox_uploader.server.errors import ApiError

IDENTITY = frozenset({"", "identity"})


def refuse_content_coding(request: web.Request, what: str) -> None:
    """415 ``unsupported_encoding`` when the body says it is encoded; ``what`` names it."""
    codings = ",".join(request.headers.getall("Content-Encoding", []))
    if any(coding.strip().lower() not in IDENTITY for coding in codings.split(",")):
        raise ApiError(
            415, "unsupported_encoding", f"Send {what} as it is, without a Content-Encoding.",
            {"Accept-Encoding": "identity"}, close=True,
        )
