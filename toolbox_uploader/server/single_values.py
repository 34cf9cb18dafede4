"""Headers and query parameters that hold one value: sent twice, differing, they are a 400.

``headers.get`` / ``query.get`` take the first and silently drop the others, while a
proxy or another server may take the last: two readings of one ``Upload-Offset``, one
``Authorization`` or one ``?limit=`` disagree about what the request asks (RFC 9110 §5.3
makes repeating a field that is not a list an error). The same value twice says one
thing and is accepted.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web
from multidict import MultiMapping

from toolbox_uploader.server.errors import ApiError


def _one(values: Sequence[str], message: str, code: str) -> str | None:
    if len({value.strip() for value in values}) > 1:
        raise ApiError(400, code, message)
    return values[0] if values else None


def single_header(request: web.Request, name: str) -> str | None:
    """The header's value, ``None`` when absent; 400 when it comes differing."""
    return _one(request.headers.getall(name, []),
                f"{name} was sent more than once, differing.", "invalid_header")


def single_param(query: MultiMapping[str], name: str) -> str | None:
    """The query parameter's value, ``None`` when absent; 400 when it comes differing."""
    return _one(query.getall(name, []),
                f"The parameter {name} was given more than once, differing.",
                "invalid_parameter")
