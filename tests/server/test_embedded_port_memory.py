"""The embedded server comes back on the port it had, so links it handed out stay valid."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx

from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.embedded import EmbeddedServer, ServerHandle, read_port


def _server(tmp_path: Path, port_file: Path) -> EmbeddedServer:
    return EmbeddedServer(ServerConfig(data_dir=tmp_path / "srv", host="127.0.0.1", port=0),
                          port_file=port_file)


def test_a_restarted_server_listens_on_its_last_port(tmp_path: Path) -> None:
    port_file = tmp_path / "state" / "last-port.json"
    first = _server(tmp_path, port_file)
    handle = first.start()
    first.stop()
    assert read_port(port_file) == handle.port
    second = _server(tmp_path, port_file)
    again = second.start()
    try:
        assert again.url == handle.url
        health = httpx.get(f"{again.url}/healthz", timeout=5)
        assert health.status_code == 200
    finally:
        second.stop()


def test_a_taken_port_gives_another_one_which_is_remembered(tmp_path: Path) -> None:
    port_file = tmp_path / "last-port.json"
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        port_file.write_text(f'{{"port": {taken}}}\n')
        server = _server(tmp_path, port_file)
        handle = server.start()
        try:
            assert handle.port != taken
            assert read_port(port_file) == handle.port
            assert httpx.get(f"{handle.url}/healthz", timeout=5).status_code == 200
        finally:
            server.stop()


def test_a_damaged_port_file_is_ignored(tmp_path: Path) -> None:
    port_file = tmp_path / "last-port.json"
    for text in ("not json", '{"port": "8765"}', '{"port": 70000}', "[1]"):
        port_file.write_text(text)
        assert read_port(port_file) is None
    server = _server(tmp_path, port_file)
    handle = server.start()
    server.stop()
    assert read_port(port_file) == handle.port


def test_an_explicit_port_is_neither_replaced_nor_remembered(tmp_path: Path) -> None:
    port_file = tmp_path / "last-port.json"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = EmbeddedServer(ServerConfig(data_dir=tmp_path / "srv", port=port),
                            port_file=port_file)
    assert server.start().port == port
    server.stop()
    assert not port_file.exists()


def test_rebase_moves_a_link_to_the_current_address() -> None:
    handle = ServerHandle("http://127.0.0.1:40001", "token", 40001)
    old = "http://127.0.0.1:38877/api/v1/files/abc123?download=1"
    assert handle.rebase(old) == "http://127.0.0.1:40001/api/v1/files/abc123?download=1"
    current = "http://127.0.0.1:40001/api/v1/files/abc123"
    assert handle.rebase(current) == current
    assert handle.rebase("not a link") == "not a link"
