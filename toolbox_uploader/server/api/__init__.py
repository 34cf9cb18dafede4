"""The JSON REST API (``/api/v1/...``) and WebSocket progress (``/ws/upload/{id}``)."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Add the REST and WebSocket routes."""
