"""tus 1.0.0 resumable uploads at ``/api/v1/storage/tus/``.

Core protocol plus creation, creation-with-upload, creation-defer-length, expiration,
checksum (sha1, sha256, md5), termination, concatenation and concatenation-unfinished.
checksum-trailer is not offered: aiohttp reads HTTP trailers and discards them.

Modules: ``headers`` (parsing/formatting), ``checksum``, ``store`` (rows and part files),
``state`` (locks, running hashers), ``hashing``, ``receive`` (streaming a body to disk),
``concat``, ``facts`` (metadata the server uses), ``complete`` (finalizing), ``expiry``,
``access`` (lookups, limits, replies), ``writing`` (body → upload → completion),
``creation`` (POST) and ``handlers`` (HEAD, PATCH, DELETE, OPTIONS, method override).
"""

from __future__ import annotations

from aiohttp import web

from toolbox_uploader.server.expect_continue import defer_continue
from toolbox_uploader.server.tus import creation, expiry, handlers
from toolbox_uploader.server.tus.access import TUS_PREFIX
from toolbox_uploader.server.tus.state import STATE, TusState


def setup(app: web.Application) -> None:
    """Add the tus routes and the expired-upload clean-up task."""
    app[STATE] = TusState()
    router = app.router
    # Every method reaches the dispatcher ("*"): X-HTTP-Method-Override wins whatever
    # method carries it (a GET too), and every 405 is the dispatcher's, with one Allow.
    on_collection = handlers.dispatcher({"POST": creation.create, "OPTIONS": handlers.options})
    for collection in (f"{TUS_PREFIX}/", TUS_PREFIX):
        router.add_route("*", collection, on_collection, expect_handler=defer_continue)
    on_item = handlers.dispatcher({"HEAD": handlers.head, "PATCH": handlers.patch,
                                   "DELETE": handlers.delete, "OPTIONS": handlers.options})
    router.add_route("*", TUS_PREFIX + "/{upload_id}", on_item, expect_handler=defer_continue)
    app.cleanup_ctx.append(expiry.cleanup_context)


__all__ = ["TUS_PREFIX", "setup"]
