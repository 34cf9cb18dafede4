"""100 files through a proxy that resets, stalls and truncates a share of the requests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.engine_support import server_files, sha256, text_file
from tests.support.fault_proxy import ThreadedFaultProxy
from toolbox_uploader.core.engine import Engine, EngineConfig
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import ServerHandle


@pytest.mark.slow
def test_100_files_complete_through_faults(live_server: ServerHandle, tmp_path: Path) -> None:
    folder = tmp_path / "Term 2"
    files = [text_file(folder / f"unit{n // 10}" / f"sheet{n:03d}.txt", 2_000 + 577 * n, seed=n)
             for n in range(100)]
    host, port = live_server.url.rsplit("//", 1)[1].split(":")
    with ThreadedFaultProxy(host, int(port), reset=0.1, stall=0.05, truncate=0.1,
                            stall_seconds=0.3, seed=7, max_faults=60) as proxy:
        engine = Engine(EngineConfig(store_path=tmp_path / "queue.sqlite3",
                                     server_url=proxy.url, token=live_server.token))
        engine.start()
        try:
            engine.add_paths([folder])
            # Retries back off with jitter up to 60 s; an item unlucky five or six times in a
            # row (a retry after a lost answer is two requests through the proxy) waits tens
            # of seconds, so the bound leaves room for that.
            assert engine.wait_idle(180), "not finished in 180 s"
            snaps = engine.snapshot()
        finally:
            engine.stop()
        faults = proxy.stats.faults
    assert faults >= 10, "the proxy should have injected faults"
    problems = [(s.relative_path, s.state, s.reason) for s in snaps
                if s.state is not ItemState.DONE]
    assert problems == []
    listed = server_files(live_server.url, live_server.token)
    stored = {f["relative_path"]: f["sha256"] for f in listed}
    expected = {str(p.relative_to(tmp_path)): sha256(p) for p in files}
    assert stored == expected
    assert len(listed) == len(files)  # once each: a cut-off answer did not mean a second copy
    assert sum(s.attempts for s in snaps) >= 1  # some items did have to try again
