"""tus 1.0.0 resumable uploads at ``/api/v1/storage/tus/``."""

from __future__ import annotations

from aiohttp import web

TUS_PREFIX = "/api/v1/storage/tus"


def setup(app: web.Application) -> None:
    """Add the tus routes and the expired-upload clean-up task."""
