"""The first files of a session on a slow link: a pause keeps what they sent.

Below 10 MB a file goes whole with its creation, whose answer (the upload's address)
comes only at the end; before any speed is measured, a file of 1 MB or more is created
first instead, so pausing it halfway keeps what the server has, and resuming carries on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.engine.engine_support import item, random_file, server_files, sha256, wait_for
from tests.support.fault_proxy import ThreadedFaultProxy
from toolbox_uploader.core.engine import Engine
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import ServerHandle

S = ItemState
SIZE = 3_000_000


def test_pausing_a_first_small_file_on_a_slow_link_keeps_its_bytes(
        make_engine: Callable[..., Engine], live_server: ServerHandle, tmp_path: Path) -> None:
    slides = random_file(tmp_path / "slides.bin", SIZE)
    with ThreadedFaultProxy("127.0.0.1", live_server.port, rate=400_000,
                            window=64 * 1024) as link:
        engine = make_engine(server_url=link.url, token=live_server.token)
        engine.add_paths([slides], category="temporary")
        wait_for(lambda: (s := item(engine, "slides.bin")) and s.bytes_sent > 1_300_000, 30,
                 describe=engine.snapshot)
        engine.pause_all()
        wait_for(lambda: item(engine, "slides.bin").state is S.PAUSED, 10,  # type: ignore[union-attr]
                 describe=engine.snapshot)
        paused = item(engine, "slides.bin")
        assert paused is not None and paused.bytes_sent >= 512 * 1024, paused
        engine.resume_all()
        wait_for(lambda: item(engine, "slides.bin").state is S.DONE, 60,  # type: ignore[union-attr]
                 describe=engine.snapshot)
        # Resumed, not sent again: one creation, the rest by PATCH (and a HEAD after the
        # pause; the slow link may still hold the cut PATCH's bytes, so 423s may come too).
        assert link.stats.methods.count("POST") == 1, link.stats.methods
    (stored,) = server_files(live_server.url, live_server.token)
    assert stored["sha256"] == sha256(slides)
