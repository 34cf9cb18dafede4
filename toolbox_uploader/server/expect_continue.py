"""``Expect: 100-continue`` answered when the handler starts reading the body, not before.

A client that sends ``Expect: 100-continue`` (curl does for bodies over 1 MB) waits for
``100 Continue`` before it sends the body, so that a request the server refuses from its
head alone costs no upload. aiohttp's default answers ``100 Continue`` before any check:
a PATCH with a wrong offset or token, or a file too large for the quota, was invited to
send all of its bytes, which the server then read (up to 10 s) only to drop them.

On the upload routes the interim answer is sent by ``send_continue`` right before the
first read of the body, so every refusal from the head (401, 404, 409, 412, 413, 415 …)
is the only answer. Such an answer also closes the connection: the client sent no body,
and the server must not wait for one to keep the connection alive (RFC 9110 §10.1.1).
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.http import HttpVersion11

_PENDING: web.RequestKey[bool] = web.RequestKey("toolbox_continue_pending", bool)
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


async def defer_continue(request: web.Request) -> None:
    """The ``expect_handler`` of the upload routes: note the expectation, answer later.

    Any other expectation is a 417, as aiohttp answers it (``errors.plain_errors_as_json``
    gives it the JSON body)."""
    expect = request.headers.get("Expect", "")
    if request.version != HttpVersion11:
        return
    if expect.strip().lower() != "100-continue":
        raise web.HTTPExpectationFailed(text=f"Unknown Expect: {expect}")
    request[_PENDING] = True


async def send_continue(request: web.Request) -> None:
    """Invite the body now, once, if the client is waiting for the invitation."""
    if request.get(_PENDING):
        request[_PENDING] = False
        await request.writer.write(_CONTINUE)
        request.writer.output_size = 0  # the response proper has not started


async def close_if_not_invited(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: a final answer to a client still waiting for ``100
    Continue`` ends the connection (it never sent the body the request announced)."""
    if request.get(_PENDING) and request.body_exists:
        response.force_close()
        # aiohttp wrote its Connection header before this hook runs: say it here too.
        response.headers["Connection"] = "close"
