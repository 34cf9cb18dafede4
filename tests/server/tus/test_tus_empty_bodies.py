"""PATCHes without a body (a deferred length declared at the end, a clumsy client).

The server runs on its own thread, as in the app, so that a request that freezes its
event loop shows up here as a timeout rather than as a test that never ends.
"""

from __future__ import annotations

import httpx

from toolbox_uploader.server.embedded import ServerHandle

OCTET = "application/offset+octet-stream"


def _client(handle: ServerHandle) -> httpx.Client:
    return httpx.Client(
        base_url=handle.url, timeout=5.0,
        headers={"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {handle.token}"},
    )


def test_empty_patches_neither_hang_nor_move_the_offset(live_server: ServerHandle) -> None:
    with _client(live_server) as http:
        created = http.post("/api/v1/storage/tus/", headers={"Upload-Length": "10"})
        url = created.headers["Location"]
        for _ in range(3):  # aiohttp's empty body is shared: the 2nd one used to spin forever
            empty = http.patch(url, headers={"Upload-Offset": "0", "Content-Type": OCTET,
                                             "Content-Length": "0"})
            assert empty.status_code == 204, empty.text
            assert empty.headers["Upload-Offset"] == "0"
        assert http.get("/healthz").status_code == 200


def test_a_deferred_length_is_declared_by_an_empty_last_patch(live_server: ServerHandle) -> None:
    data = b"A line of plain text for the worksheet.\n" * 3
    with _client(live_server) as http:
        for _ in range(2):
            created = http.post("/api/v1/storage/tus/",
                                headers={"Upload-Defer-Length": "1", "Content-Type": OCTET},
                                content=data)
            assert created.status_code == 201, created.text
            url = created.headers["Location"]
            last = http.patch(url, headers={
                "Upload-Offset": str(len(data)), "Upload-Length": str(len(data)),
                "Content-Type": OCTET,
            })
            assert last.status_code == 204, last.text
            upload_id = url.rsplit("/", 1)[-1]
            stored = http.get(f"/api/v1/files/{upload_id}")
            assert stored.status_code == 200 and stored.json()["size"] == len(data)
