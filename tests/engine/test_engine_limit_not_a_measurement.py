"""A bandwidth limit is not a measured speed: the first small files still resume.

Before any speed is measured, a file of 1 MB or more is created first and sent by PATCH,
so a pause (or Ctrl+C) keeps what the server has. A bandwidth limit only caps the speed:
the link may be slower still, and at 1 MiB/s a 5 MB file takes 5 s. With a limit set and
nothing measured, such files used to go whole with their creation, and a pause lost it all
(``upload DIR --bandwidth-limit 1M``, Ctrl+C at 2.5 s: sent 0, and the rerun started over).
A chunk cut by a pause is sent again whole, so the first one under a limit takes about 1 s:
at 3 s, a pause in the first seconds kept nothing either."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.engine.engine_support import item, random_file, server_files, sha256, wait_for
from toolbox_uploader.core.engine import Engine
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.core.strategy import ChunkSizer
from toolbox_uploader.server.embedded import ServerHandle

S = ItemState
LIMIT = 1024 * 1024  # ``--bandwidth-limit 1M``: 2.5 s for the file below
SIZE = 2_500_000


def test_a_first_small_file_under_a_bandwidth_limit_resumes_after_a_pause(
        make_engine: Callable[..., Engine], live_server: ServerHandle, tmp_path: Path) -> None:
    slides = random_file(tmp_path / "slides.bin", SIZE)
    engine = make_engine(server_url=live_server.url, token=live_server.token,
                         bandwidth_limit=LIMIT)
    engine.add_paths([slides], category="temporary")
    wait_for(lambda: (s := item(engine, "slides.bin")) and s.bytes_sent > 1_200_000, 10,
             interval=0.01, describe=engine.snapshot)
    engine.pause_all()
    wait_for(lambda: item(engine, "slides.bin").state is S.PAUSED, 5,  # type: ignore[union-attr]
             describe=engine.snapshot)
    paused = item(engine, "slides.bin")
    assert paused is not None and paused.bytes_sent >= 512 * 1024, paused
    engine.resume_all()
    # Carried on from what the server had (its HEAD), not sent again from the start.
    resumed = wait_for(lambda: (s := item(engine, "slides.bin")) and s.resumed_from, 5,
                       interval=0.01, describe=engine.snapshot)
    assert resumed >= 512 * 1024
    wait_for(lambda: item(engine, "slides.bin").state is S.DONE, 10,  # type: ignore[union-attr]
             describe=engine.snapshot)
    (stored,) = server_files(live_server.url, live_server.token)
    assert stored["sha256"] == sha256(slides) and stored["size"] == SIZE


def test_the_first_chunk_aims_at_one_second_until_the_link_is_measured() -> None:
    """Sized from the bandwidth limit (``tus_client._chunk_size``): 1 MiB at 1 MiB/s."""
    sizer = ChunkSizer()
    assert sizer.target_seconds == 1.0
    sizer.record(8 * LIMIT, 8.0)  # measured: 1 MiB/s, 3 s chunks from now on
    assert sizer.target_seconds == 3.0 and sizer.next_size() == 3 * LIMIT
