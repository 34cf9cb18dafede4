"""A row's progress is what the server kept, not what left, once a request is cut.

A chunk cut by a pause is sent again whole (its checksum covers all of it), so the bytes of
it that had left are not on the server. The row used to keep counting them: "Paused at
38%" came back as 21% on resume, when HEAD told the truth. Under a bandwidth limit of
1 MiB/s the first chunk is about 1 MiB; a pause in the second one must show that 1 MiB.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.engine.engine_support import item, queued, random_file, wait_for
from toolbox_uploader.core.engine import Engine
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import ServerHandle

S = ItemState
LIMIT = 1024 * 1024
SIZE = 2_500_000


def server_offset(url: str, token: str) -> int:
    response = httpx.head(url, headers={"Tus-Resumable": "1.0.0",
                                        "Authorization": f"Bearer {token}"}, timeout=10)
    response.raise_for_status()
    return int(response.headers["Upload-Offset"])


def test_a_paused_row_shows_what_the_server_kept_and_resuming_never_goes_back(
        make_engine: Callable[..., Engine], live_server: ServerHandle, tmp_path: Path) -> None:
    slides = random_file(tmp_path / "slides.bin", SIZE)
    engine = make_engine(server_url=live_server.url, token=live_server.token,
                         bandwidth_limit=LIMIT)
    engine.add_paths([slides], category="temporary")
    # Into the second chunk: the first (about 1 MiB) is on the server, the second is not.
    wait_for(lambda: (s := item(engine, "slides.bin")) and s.bytes_sent > 1_400_000, 10,
             interval=0.01, describe=engine.snapshot)
    engine.pause_all()
    paused = wait_for(lambda: (s := queued(engine, "slides.bin")).state is S.PAUSED and s, 5,
                      describe=engine.snapshot)
    assert paused.upload_url is not None
    kept = server_offset(paused.upload_url, live_server.token)
    assert 0 < kept < 1_400_000  # the cut chunk was not kept: the case at hand
    assert paused.bytes_sent == kept, (paused.bytes_sent, kept)

    engine.resume_all()
    lowest = paused.bytes_sent
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # every row shown from the resume to the end
        snap = queued(engine, "slides.bin")
        lowest = min(lowest, snap.bytes_sent)
        if snap.state is S.DONE:
            break
        time.sleep(0.005)
    assert queued(engine, "slides.bin").state is S.DONE
    assert lowest == paused.bytes_sent, (lowest, paused.bytes_sent)
