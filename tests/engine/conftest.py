"""Fixtures shared by the engine tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.fault_proxy import ThreadedFaultProxy, black_hole_first_patch
from toolbox_uploader.core.engine import Engine, EngineConfig
from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.embedded import EmbeddedServer, ServerHandle


@pytest.fixture
def make_engine(tmp_path: Path) -> Iterator[Callable[..., Engine]]:
    """Start engines (store ``queue.sqlite3`` in the test's tmp dir unless given); stop them all."""
    engines: list[Engine] = []

    def make(**options: object) -> Engine:
        options.setdefault("store_path", tmp_path / "queue.sqlite3")
        engine = Engine(EngineConfig(**options))  # type: ignore[arg-type]
        engine.start()
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.stop()


@pytest.fixture
def other_server(tmp_path: Path) -> Iterator[ServerHandle]:
    """A second real server (a teacher's home server next to the school's)."""
    server = EmbeddedServer(ServerConfig(data_dir=tmp_path / "other-server", host="127.0.0.1",
                                         port=0))
    handle = server.start()
    try:
        yield handle
    finally:
        server.stop()


@pytest.fixture
def black_hole(live_server: ServerHandle) -> Iterator[ThreadedFaultProxy]:
    """A link to ``live_server`` whose first PATCH dies without a word (a laptop's sleep)."""
    assert live_server.port is not None
    with black_hole_first_patch(live_server.port) as proxy:
        yield proxy
