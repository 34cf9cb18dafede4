"""One short log line, not a traceback, for a request aiohttp's HTTP parser cannot read.

aiohttp answers such a request (a header over 8 KB, a bad chunk size, Content-Length with
Transfer-Encoding, a method like ``FOO``, …) with its own 400, which is fine, but logs
each one at ERROR with a full traceback: any client could fill the log with garbage. The
runner is built by ``serve`` and by the embedded starter alike, around ``create_app``, so
the fix lives on aiohttp's ``aiohttp.server`` logger: a filter rewrites those records into
one INFO line (dropped unless INFO is enabled), and leaves every other record alone.

Two more ways a client could write to the log at will are closed the same way:
- a body whose ``Content-Encoding`` does not decode (``gzip`` on plain bytes), left unread
  by the handler (``GET /healthz`` needs no token): aiohttp reads it after the answer and
  logs the ``RequestPayloadError`` as "Unhandled exception" with a traceback;
- a multipart part with a malformed ``Content-Disposition``: aiohttp raises a
  ``RuntimeWarning`` quoting the header, printed once *per distinct text* to stderr and
  remembered in the warnings registry, so distinct headers grow the log and the memory
  without bound. The part is refused anyway (400, it has no usable name).
"""

from __future__ import annotations

import logging
import warnings

from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.multipart import BadContentDispositionHeader, BadContentDispositionParam
from aiohttp.web_protocol import RequestPayloadError

AIOHTTP_SERVER_LOG = "aiohttp.server"
_SHOWN = 160  # characters of the parser's message; it may quote the client's bytes


class ParseErrorFilter(logging.Filter):
    """Turns aiohttp's "Error handling request" of a parse error into one INFO line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError | RequestPayloadError):
            return True
        if not logging.getLogger(record.name).isEnabledFor(logging.INFO):
            return False
        remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        text = exc.message if isinstance(exc, HttpProcessingError) else exc
        message = str(text or exc)[:_SHOWN]
        record.msg = "unreadable request from %s: %s %r"
        record.args = (remote, type(exc).__name__, message)
        record.exc_info = record.exc_text = None
        record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        return True


def quiet_parse_errors() -> None:
    """Install the filters once per process (the logger is aiohttp's, shared by all apps;
    ``filterwarnings`` replaces an equal filter rather than adding another)."""
    logger = logging.getLogger(AIOHTTP_SERVER_LOG)
    if not any(isinstance(f, ParseErrorFilter) for f in logger.filters):
        logger.addFilter(ParseErrorFilter())
    for category in (BadContentDispositionHeader, BadContentDispositionParam):
        warnings.filterwarnings("ignore", category=category)
