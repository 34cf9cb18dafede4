"""Uploads given up on the client (a row removed, a cancel) are deleted on their own server,
with that server's credentials only, even when that server is not the one chosen now or
the app stopped first. The real engine against real servers; the school server sits behind
a pass-through proxy on loopback that notes the method of every request it gets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.engine.engine_support import item, random_file, wait_for
from tests.support.fault_proxy import ThreadedFaultProxy
from toolbox_uploader.core.engine import Engine
from toolbox_uploader.core.events import ItemSnapshot
from toolbox_uploader.core.session_store import SessionStore
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import ServerHandle

S = ItemState
MIB = 1024 * 1024
MakeEngine = Callable[..., Engine]


def _status(url: str, token: str) -> int:
    return httpx.head(url, headers={"Tus-Resumable": "1.0.0",
                                    "Authorization": f"Bearer {token}"}).status_code


def _behind_proxy(server: ServerHandle) -> ThreadedFaultProxy:
    port = urlsplit(server.url).port
    assert port is not None
    return ThreadedFaultProxy("127.0.0.1", port)


def _sending(make_engine: MakeEngine, school: ThreadedFaultProxy, token: str,
             video: Path) -> Engine:
    """An engine on the school server (through the proxy), 2 MiB into sending ``video``."""
    engine = make_engine(server_url=school.url, token=token, server_key="school",
                         bandwidth_limit=4 * MIB)
    engine.add_paths([video], category="temporary")
    wait_for(lambda: (s := item(engine, video.name)) and s.state is S.UPLOADING
             and s.bytes_sent >= 2 * MIB, 20, describe=engine.snapshot)
    return engine


def _switched_away(make_engine: MakeEngine, school: ThreadedFaultProxy, live: ServerHandle,
                   home: ServerHandle, video: Path) -> tuple[Engine, ItemSnapshot]:
    """Sending ``video`` to the school server, then the home server chosen: it waits."""
    engine = _sending(make_engine, school, live.token, video)
    snap = item(engine, video.name)
    assert snap is not None and snap.upload_url
    engine.set_server(home.url, None, home.token, "home")
    wait_for(lambda: (s := item(engine, video.name)) and s.state is S.READY, 10,
             describe=engine.snapshot)
    return engine, snap


def test_a_removed_row_of_another_server_is_deleted_there_when_it_is_back(
        make_engine: MakeEngine, live_server: ServerHandle, other_server: ServerHandle,
        tmp_path: Path) -> None:
    video = random_file(tmp_path / "lesson.bin", 24 * MIB)
    with _behind_proxy(live_server) as school:
        engine, snap = _switched_away(make_engine, school, live_server, other_server, video)
        seen = len(school.stats.methods)

        engine.remove([snap.id])
        wait_for(lambda: item(engine, video.name) is None, 10, describe=engine.snapshot)
        engine.stop()  # the app is closed before the school server is chosen again
        # The home server's token never went to the school server.
        assert "DELETE" not in school.stats.methods[seen:]
        assert _status(snap.upload_url, live_server.token) == 200  # still there, for now

        make_engine(server_url=school.url, token=live_server.token, server_key="school")
        wait_for(lambda: _status(snap.upload_url, live_server.token) in (404, 410), 15)
        assert school.stats.methods[seen:].count("DELETE") == 1
    store = SessionStore(tmp_path / "queue.sqlite3")
    try:
        assert store.abandoned_uploads("school") == []  # done with, not tried again
    finally:
        store.close()


def test_a_cancel_while_its_server_is_down_is_carried_out_at_the_next_start(
        make_engine: MakeEngine, live_server: ServerHandle, tmp_path: Path) -> None:
    video = random_file(tmp_path / "assembly.bin", 24 * MIB)
    with _behind_proxy(live_server) as school:
        engine = _sending(make_engine, school, live_server.token, video)
        engine.pause([item(engine, video.name).id])  # type: ignore[union-attr]
        paused = wait_for(lambda: (s := item(engine, video.name)) and s.state is S.PAUSED
                          and s, 10, describe=engine.snapshot)
        url, proxy_url = paused.upload_url, school.url
    # The school server's address answers nothing now (the proxy is gone).
    engine.cancel([paused.id])
    wait_for(lambda: (s := item(engine, video.name)) and s.state is S.CANCELLED, 10,
             describe=engine.snapshot)
    engine.stop()
    assert url and _status(url.replace(proxy_url, live_server.url), live_server.token) == 200

    # Next run, straight to the server (the local server's port changes like this too).
    make_engine(server_url=live_server.url, token=live_server.token, server_key="school")
    wait_for(lambda: _status(url.replace(proxy_url, live_server.url), live_server.token)
             in (404, 410), 15)


def test_a_removed_row_is_deleted_there_when_its_server_is_chosen_again_the_same_day(
        make_engine: MakeEngine, live_server: ServerHandle, other_server: ServerHandle,
        tmp_path: Path) -> None:
    video = random_file(tmp_path / "lesson.bin", 24 * MIB)
    with _behind_proxy(live_server) as school:
        engine, snap = _switched_away(make_engine, school, live_server, other_server, video)
        engine.remove([snap.id])
        wait_for(lambda: item(engine, video.name) is None, 10, describe=engine.snapshot)
        assert _status(snap.upload_url, live_server.token) == 200

        engine.set_server(school.url, None, live_server.token, "school")  # no restart
        wait_for(lambda: _status(snap.upload_url, live_server.token) in (404, 410), 15)
