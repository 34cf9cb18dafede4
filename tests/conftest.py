"""Shared fixtures. Every test gets its own TOOLBOX_UPLOADER_HOME and an in-memory keyring."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never touch the developer's real keychain: a plaintext file backend under the test home.
os.environ["PYTHON_KEYRING_BACKEND"] = "keyrings.alt.file.PlaintextKeyring"

from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.embedded import EmbeddedServer, ServerHandle


@pytest.fixture(autouse=True)
def app_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("TOOLBOX_UPLOADER_HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "xdg-data"))  # keyrings.alt stores here
    monkeypatch.delenv("TOOLBOX_UPLOADER_TOKEN", raising=False)
    return home


@pytest.fixture
def server_config(tmp_path: Path) -> ServerConfig:
    """A server on a random free loopback port with its own data directory."""
    return ServerConfig(data_dir=tmp_path / "server-data", host="127.0.0.1", port=0)


@pytest.fixture
def live_server(server_config: ServerConfig) -> Iterator[ServerHandle]:
    """The real server, running on its own thread, as the desktop app runs it."""
    server = EmbeddedServer(server_config)
    handle = server.start()
    try:
        yield handle
    finally:
        server.stop()
