"""The JSON REST API (``/api/v1/...``) and WebSocket progress (``/ws/upload/{id}``).

One module per concern; ``setup`` is the single place that adds their routes.
"""

from __future__ import annotations

from aiohttp import web

from toolbox_uploader.server.api import direct_upload, files, openapi, quota, ws


def setup(app: web.Application) -> None:
    """Add the REST and WebSocket routes."""
    openapi.setup(app)
    # The literal upload routes go before the ``{file_id}`` ones (ids are hex, never
    # "upload", but the order keeps 405 answers right for GET /api/v1/files/upload).
    direct_upload.setup(app)
    files.setup(app)
    quota.setup(app)
    ws.setup(app)
