"""A tus endpoint given with a query string (``--tus-endpoint http://h/files?key=v``), as a
site that puts a key or a tenant on its URLs has, against @tus/server answering upload
URLs that carry a query string too: the query stays a query (never ``?key=v/``), and an
upload stopped mid-way resumes at its own URL, query and all, from the server's offset."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.tus_node import node_available, tus_node_server
from toolbox_uploader.core.engine import Engine, EngineConfig
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.core.tus_client import TusClient, endpoint_folder
from toolbox_uploader.core.upload_job import Target

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not node_available(), reason="Node and tests/interop/node_modules needed"),
]

MIB = 1024 * 1024


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"{what} did not happen within {timeout} s")


@pytest.fixture
def engines() -> Iterator[list[Engine]]:
    started: list[Engine] = []
    yield started
    for engine in started:
        engine.stop()


def start(engines: list[Engine], **options: Any) -> Engine:
    engine = Engine(EngineConfig(**options))
    engine.start()
    engines.append(engine)
    return engine


async def test_the_endpoint_s_query_stays_a_query() -> None:
    async with TusClient("http://h/files?key=v") as tus:
        assert tus.endpoint == "http://h/files/?key=v"
    assert endpoint_folder("http://h/files?key=v") == "http://h/files/?key=v"
    assert endpoint_folder("http://h/files/?key=v") == "http://h/files/?key=v"
    assert endpoint_folder("http://h") == "http://h/"
    target = Target.build(None, "http://h/files?key=v", None, None)
    assert target.endpoint == target.server_key == "http://h/files/?key=v"


def test_an_endpoint_with_a_query_uploads_and_resumes_against_tus_node(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engines: list[Engine]) -> None:
    log = tmp_path / "requests.jsonl"
    monkeypatch.setenv("TUS_NODE_OPTIONS", json.dumps(
        {"locationQuery": "key=v", "logFile": str(log)}))
    video = tmp_path / "lesson.bin"
    video.write_bytes(os.urandom(11 * MIB))  # over 10 MB: sent by PATCH, resumable
    store = tmp_path / "queue.sqlite3"
    files = tmp_path / "store"
    with tus_node_server(files) as plain:
        endpoint = plain.rstrip("/") + "?key=v"  # as a scripter would type it

        def sent() -> int:
            held = [p for p in files.iterdir() if p.suffix != ".json"]
            return held[0].stat().st_size if held else 0

        first = start(engines, tus_endpoint=endpoint, store_path=store,
                      bandwidth_limit=2 * MIB, max_chunk_size=MIB)
        first.add_paths([video], category="temporary")
        wait_for(lambda: sent() >= MIB, 10, "the first MiB")
        first.stop()
        kept = sent()
        assert 0 < kept < video.stat().st_size

        second = start(engines, tus_endpoint=endpoint, store_path=store)
        done = wait_for(lambda: [s for s in second.snapshot() if s.state is ItemState.DONE],
                        10, "the resumed upload")[0]
    requests = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["url"] for r in requests if r["method"] == "POST"] == ["/files/?key=v"]
    (upload,) = [p.name for p in files.iterdir() if p.suffix != ".json"]
    own = f"/files/{upload}?key=v"
    # Every request for the upload went to its own URL, the resume's HEAD included.
    assert {r["url"] for r in requests if r["method"] in ("HEAD", "PATCH")} == {own}
    assert any(r["method"] == "HEAD" for r in requests)
    assert done.upload_url == plain.rstrip("/").rsplit("/files", 1)[0] + own
    assert (files / upload).read_bytes() == video.read_bytes()
