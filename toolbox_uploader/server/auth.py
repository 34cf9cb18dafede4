"""Who is asking: bearer tokens on every API route except the health check."""

from __future__ import annotations

from aiohttp import web

from toolbox_uploader.server import keys
from toolbox_uploader.server.accounts import Account
from toolbox_uploader.server.errors import ApiError
from toolbox_uploader.server.single_values import single_header, single_param

ACCOUNT_KEY: web.RequestKey[Account] = web.RequestKey("toolbox_account", Account)
#: The only routes where ``?token=`` counts: a URL is logged and shared far more than a
#: header, so a REST call must not authenticate by adding an ``Upgrade`` header to it.
WEBSOCKET_PREFIX = "/ws/"


def request_account(request: web.Request) -> Account:
    """The authenticated account of this request, or a 401 JSON error.

    The token comes from ``Authorization: Bearer …``; WebSocket clients in a browser
    cannot set headers, so ``?token=`` is also accepted on WebSocket routes only. Both
    given and differing is a 400, as for any value sent twice: taking either one would
    act for an account the other reading of the request does not name.
    """
    if ACCOUNT_KEY in request:
        return request[ACCOUNT_KEY]
    header = single_header(request, "Authorization") or ""
    scheme, _, token = header.partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    websocket = request.headers.get("Upgrade", "").lower() == "websocket"
    if websocket and request.path.startswith(WEBSOCKET_PREFIX):
        query_token = (single_param(request.query, "token") or "").strip()
        if token and query_token and query_token != token:
            raise ApiError(400, "invalid_parameter",
                           "The token was sent both in Authorization and as ?token=, differing.")
        token = token or query_token
    account = request.app[keys.ACCOUNTS].authenticate(token)
    if account is None:
        raise ApiError(
            401, "unauthorized", "A valid bearer token is required.",
            {"WWW-Authenticate": 'Bearer realm="toolbox-uploader"'},
        )
    request[ACCOUNT_KEY] = account
    return account
