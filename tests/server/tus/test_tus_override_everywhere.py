"""``X-HTTP-Method-Override`` wins whatever method carries it, a GET included (tus 1.0:
clients behind proxies that pass only GET and POST), and every 405 on a tus URL names
the same allowed methods, whoever answers it."""

from __future__ import annotations


async def test_a_get_carrying_an_override_is_the_overriding_method(tus) -> None:
    url = await tus.create(30)
    resp = await tus.client.get(url, headers=tus.headers({"X-HTTP-Method-Override": "HEAD"}))
    assert resp.status == 200, await resp.text()
    assert resp.headers["Upload-Offset"] == "0" and resp.headers["Upload-Length"] == "30"
    resp = await tus.client.get(url, headers=tus.headers({"X-HTTP-Method-Override": "DELETE"}))
    assert resp.status == 204
    await tus.head(url, expect=404)


async def test_every_405_on_a_tus_url_allows_the_same_methods(tus) -> None:
    url = await tus.create(30)
    for path, allowed in ((url, "HEAD, PATCH, DELETE, OPTIONS"), (tus.TUS, "POST, OPTIONS")):
        for method in ("GET", "PUT", "POST" if path == url else "PATCH"):
            resp = await tus.client.request(method, path, headers=tus.headers())
            assert resp.status == 405, (method, path)
            assert resp.headers["Allow"] == allowed, (method, path)
            assert (await resp.json())["error"] == "method_not_allowed"
            assert resp.headers["Tus-Resumable"] == "1.0.0"
