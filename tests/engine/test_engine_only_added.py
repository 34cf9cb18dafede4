"""``only_added`` (the ``upload`` command): a run works on the paths it was given, and the
rest of the stored queue waits as it was, for the app or the command that added it.

Another account's token, or a folder the teacher meant to send later, must not pick up
an upload left unfinished by someone else's run. The real engine and server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.engine.engine_support import (
    item,
    server_files,
    sha256,
    store_cut_off_mid_send,
    text_file,
    wait_for,
)
from toolbox_uploader.core.engine import Engine
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import ServerHandle

S = ItemState
MakeEngine = Callable[..., Engine]


def test_a_run_leaves_other_unfinished_items_as_they_were(
        make_engine: MakeEngine, live_server: ServerHandle, tmp_path: Path) -> None:
    earlier = text_file(tmp_path / "Term 1" / "report.txt", 30_000, seed=3)
    store_cut_off_mid_send(tmp_path / "queue.sqlite3", live_server.url, earlier, "report.txt",
                           "educational_content")
    today = text_file(tmp_path / "Term 2" / "plan.txt", 30_000, seed=4)

    run = make_engine(server_url=live_server.url, token=live_server.token, only_added=True)
    run.add_paths([today], category="educational_content")
    assert run.wait_idle(30)  # idle although the earlier item has work ahead
    assert item(run, "plan.txt").state is S.DONE  # type: ignore[union-attr]
    left = item(run, "report.txt")
    assert left is not None and left.state is S.READY and left.attempts == 0
    assert [f["sha256"] for f in server_files(live_server.url, live_server.token)] == [
        sha256(today)]
    run.stop()

    # The same command given that file again finishes it; so would the app.
    again = make_engine(server_url=live_server.url, token=live_server.token, only_added=True)
    again.add_paths([earlier], category="educational_content")
    assert again.wait_idle(30)
    assert item(again, "report.txt").state is S.DONE  # type: ignore[union-attr]
    assert sorted(f["sha256"] for f in server_files(live_server.url, live_server.token)) == \
        sorted([sha256(today), sha256(earlier)])


def test_the_app_carries_on_every_unfinished_item(
        make_engine: MakeEngine, live_server: ServerHandle, tmp_path: Path) -> None:
    earlier = text_file(tmp_path / "report.txt", 30_000, seed=3)
    store_cut_off_mid_send(tmp_path / "queue.sqlite3", live_server.url, earlier, "report.txt",
                           "educational_content")
    app = make_engine(server_url=live_server.url, token=live_server.token)
    wait_for(lambda: (s := item(app, "report.txt")) and s.state is S.DONE, 30,
             describe=app.snapshot)
