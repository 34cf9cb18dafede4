"""The OpenAPI document describes every route the app registers, and nothing stale."""

from __future__ import annotations

import re

from _api_support import Api

from toolbox_uploader.server.api.openapi import ERROR_REASONS


def _shape(path: str) -> str:
    """``/a/{x:regex}/b`` and ``/a/{y}/b`` compare equal."""
    return re.sub(r"\{[^}]*\}", "{}", path)


async def test_every_registered_route_is_documented(api: Api) -> None:
    r = await api.client.get("/api/v1/openapi.json")  # no token needed
    assert r.status == 200
    doc = await r.json()
    assert doc["openapi"].startswith("3.1")
    documented = {
        (_shape(path), method.upper())
        for path, item in doc["paths"].items()
        for method in item
        if method != "parameters"
    }
    routes = [(_shape(route.resource.canonical), route.method)
              for route in api.app.router.routes() if route.resource is not None]
    # A tus URL takes every method ("*"): its dispatcher answers the ones it does not
    # know with 405 (X-HTTP-Method-Override may turn any method into a known one). Such
    # a path must be documented, with the methods the document gives it.
    catch_all = {path for path, method in routes if method == "*"}
    assert catch_all <= {path for path, _ in documented}, "tus paths missing"
    registered = {(path, method) for path, method in routes if method != "*"} | {
        (path, method) for path, method in documented if path in catch_all}
    assert registered - documented == set(), "routes missing from the OpenAPI document"
    assert documented - registered == set(), "documented routes that do not exist"


async def test_document_is_internally_consistent(api: Api) -> None:
    doc = await (await api.client.get("/api/v1/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    text = str(doc)
    for ref in re.findall(r"#/components/schemas/(\w+)", text):
        assert ref in schemas, ref
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert operation["summary"], (path, method)
            for status in operation["responses"]:
                assert status.isdigit() and (int(status) < 400 or int(status) in ERROR_REASONS)
