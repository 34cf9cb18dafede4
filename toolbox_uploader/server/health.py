"""``GET /healthz``: unauthenticated liveness check."""

from __future__ import annotations

from aiohttp import web

from toolbox_uploader import __version__


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "version": __version__})


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
