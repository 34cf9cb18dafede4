"""``GET /api/v1/quota``: how much the account may still store."""

from __future__ import annotations

from aiohttp import web

from toolbox_uploader.server import keys
from toolbox_uploader.server.auth import request_account


async def get_quota(request: web.Request) -> web.Response:
    """``used`` counts stored files; ``reserved`` the declared size of unfinished uploads.

    ``limit`` and ``available`` are ``null`` for an account without a quota.
    """
    account = request_account(request)
    usage = request.app[keys.ACCOUNTS].usage(account)
    return web.json_response({
        "used": usage.used,
        "reserved": usage.reserved,
        "limit": usage.limit,
        "available": usage.available,
    })


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/quota", get_quota, allow_head=False)
