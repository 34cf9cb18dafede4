"""CORS, so that a browser tus client (tus-js-client in a web page) can use the server.

Authentication is a bearer token in a header, never a cookie, so any origin may be
allowed: a page still needs the token to do anything. Preflight requests are answered
here before routing and authentication. The middleware sits outermost so that error
responses carry the headers too (a browser hides a response without them).
"""

from __future__ import annotations

from aiohttp import web

from toolbox_uploader.server.errors import Handler

ALLOW_METHODS = "GET, HEAD, POST, PATCH, DELETE, OPTIONS"
ALLOW_HEADERS = ", ".join((
    "Authorization", "Content-Type", "Tus-Resumable", "Upload-Length", "Upload-Metadata",
    "Upload-Offset", "Upload-Defer-Length", "Upload-Concat", "Upload-Checksum",
    "X-HTTP-Method-Override", "X-Requested-With", "Range",
))
EXPOSE_HEADERS = ", ".join((
    "Location", "Tus-Resumable", "Tus-Version", "Tus-Extension", "Tus-Max-Size",
    "Tus-Checksum-Algorithm", "Upload-Offset", "Upload-Length", "Upload-Metadata",
    "Upload-Defer-Length", "Upload-Concat", "Upload-Expires", "Content-Range",
    "Content-Disposition", "Retry-After", "Toolbox-Duplicate-Of",
))
MAX_AGE = "86400"


def _add_headers(response: web.StreamResponse, origin: str) -> None:
    if response.prepared:  # streamed responses have already sent their headers
        return
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    vary = response.headers.get("Vary")
    response.headers["Vary"] = f"{vary}, Origin" if vary else "Origin"


@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    origin = request.headers.get("Origin")
    if origin is None:
        return await handler(request)
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        response = web.Response(status=204, headers={
            "Access-Control-Allow-Methods": ALLOW_METHODS,
            "Access-Control-Allow-Headers": ALLOW_HEADERS,
            "Access-Control-Max-Age": MAX_AGE,
        })
        _add_headers(response, origin)
        return response
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # redirects and anything the error middleware let by
        _add_headers(exc, origin)
        raise
    _add_headers(response, origin)
    return response
