"""Fixtures shared by the engine tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from toolbox_uploader.core.engine import Engine, EngineConfig


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
