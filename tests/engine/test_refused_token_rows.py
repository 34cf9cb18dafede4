"""A refused token is not another account: it adds no rows that outlive the sign-in.

A done file asked for with another account's token is a new upload there, on a new row.
A mistyped token looks like another account until the server refuses it (401): the rows
made for it wait for a sign-in, and once the right token is back the files are the ones
already done there, one row per file, nothing sent again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.engine.engine_support import server_files, text_file, wait_for
from toolbox_uploader.core.engine import Engine
from toolbox_uploader.core.session_store import SessionStore
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import ServerHandle

S = ItemState
MakeEngine = Callable[..., Engine]
WRONG = "not-the-right-token-1234"


def _week(tmp_path: Path) -> Path:
    folder = tmp_path / "Week1"
    text_file(folder / "quiz.txt", 3000, seed=1)
    text_file(folder / "sheet.txt", 3000, seed=2)
    return folder


def _signed_out(engine: Engine) -> bool:
    snaps = engine.snapshot()
    return len(snaps) > 0 and all(
        s.state is S.DONE or (s.reason is not None and s.reason.code == "sign_in_needed")
        for s in snaps) and any(s.state is S.PAUSED for s in snaps)


def test_a_rerun_with_the_right_token_keeps_one_row_per_file(
        make_engine: MakeEngine, live_server: ServerHandle, tmp_path: Path) -> None:
    """``upload DIR``, then with a mistyped ``--token``, then with the right one."""
    folder = _week(tmp_path)
    url, token = live_server.url, live_server.token
    first = make_engine(server_url=url, token=token, only_added=True)
    first.add_paths([folder])
    assert first.wait_idle(30), first.snapshot()
    first.stop()

    wrong = make_engine(server_url=url, token=WRONG, only_added=True)
    wrong.add_paths([folder])
    wait_for(lambda: _signed_out(wrong), 20, describe=wrong.snapshot)
    wrong.stop()

    right = make_engine(server_url=url, token=token, only_added=True)
    right.add_paths([folder])
    assert right.wait_idle(30), right.snapshot()
    snaps = right.snapshot()
    right.stop()
    assert sorted((s.display_name, s.state) for s in snaps) == [
        ("quiz.txt", S.DONE), ("sheet.txt", S.DONE)]
    store = SessionStore(tmp_path / "queue.sqlite3")
    try:
        assert len(store.items()) == 2, store.items()
    finally:
        store.close()
    assert len(server_files(url, token)) == 2


def test_signing_in_again_in_the_app_folds_the_waiting_rows(
        make_engine: MakeEngine, live_server: ServerHandle, tmp_path: Path) -> None:
    """The app: a wrong token typed in the settings, the folder dropped again, then the
    right token signed in."""
    folder = _week(tmp_path)
    url, token = live_server.url, live_server.token
    engine = make_engine(server_url=url, token=token)
    engine.add_paths([folder])
    assert engine.wait_idle(30), engine.snapshot()
    done = sorted(s.id for s in engine.snapshot())

    engine.set_server(url, None, WRONG, None)
    engine.add_paths([folder])
    wait_for(lambda: _signed_out(engine), 20, describe=engine.snapshot)
    assert len(engine.snapshot()) == 4  # waiting for a sign-in: nobody knows whose yet

    engine.set_server(url, None, token, None)
    wait_for(lambda: len(engine.snapshot()) == 2, 10, describe=engine.snapshot)
    assert engine.wait_idle(30), engine.snapshot()
    snaps = engine.snapshot()
    assert sorted(s.id for s in snaps) == done
    assert all(s.state is S.DONE for s in snaps), snaps
    assert len(server_files(url, token)) == 2
