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
    cannot set headers, so ``?token=`` is also accepted on WebSocket routes only.
    """
    if ACCOUNT_KEY in request:
        return request[ACCOUNT_KEY]
    header = single_header(request, "Authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        token = ""
        websocket = request.headers.get("Upgrade", "").lower() == "websocket"
        if websocket and request.path.startswith(WEBSOCKET_PREFIX):
            token = single_param(request.query, "token") or ""
    account = request.app[keys.ACCOUNTS].authenticate(token.strip())
    if account is None:
        raise ApiError(
            401, "unauthorized", "A valid bearer token is required.",
            {"WWW-Authenticate": 'Bearer realm="toolbox-uploader"'},
        )
    request[ACCOUNT_KEY] = account
    return account
