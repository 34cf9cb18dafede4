"""A server address that leads to some other web server (a plain file server, a school's
homepage) says so, instead of "The server answered 501 Unsupported method ('POST')"."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.engine.engine_support import item, text_file, wait_for
from toolbox_uploader.core.engine import Engine
from toolbox_uploader.core.states import ItemState


class _PlainHandler(SimpleHTTPRequestHandler):
    """Python's file server, which answers 501 to OPTIONS and POST. It reads a body before
    answering, as web servers such as nginx do: unread bytes left at close make the
    kernel reset the connection, and the client might see that instead of the answer."""

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(min(length, 1_000_000))
        super().send_error(code, message, explain)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def plain_web_server(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "site").mkdir()
    handler = partial(_PlainHandler, directory=str(tmp_path / "site"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def test_a_plain_web_server_is_named_as_not_a_toolbox_server(
        make_engine: Callable[..., Engine], plain_web_server: str, tmp_path: Path) -> None:
    sheet = text_file(tmp_path / "sheet.txt", 2000)
    engine = make_engine(server_url=plain_web_server, token="t0123456789abcdef")
    engine.add_paths([sheet])
    # Final, not a try that a cut connection ended (those are retried by themselves).
    snap = wait_for(lambda: (s := item(engine, "sheet.txt")) and s.state is ItemState.FAILED
                    and not s.retryable and s, 60, describe=engine.snapshot)
    assert snap.reason.code == "not_a_toolbox_server"
    assert f"No ToolBox server answers at {plain_web_server}" in snap.reason.message
