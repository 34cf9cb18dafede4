"""A file done on a server is "already uploaded" only for the same account, place and
category: the same folder sent again with another account's token, from a folder higher
up, or under another named category is sent there, not reported done without a request."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.engine.engine_support import add_server_account, server_files, text_file, wait_for
from toolbox_uploader.core.engine import Engine
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.embedded import ServerHandle

S = ItemState
MakeEngine = Callable[..., Engine]


def _run(make_engine: MakeEngine, url: str, token: str, path: Path,
         category: str | None = None, recategorize: bool = False) -> list:
    engine = make_engine(server_url=url, token=token)
    engine.add_paths([path], category=category, recategorize=recategorize)
    assert engine.wait_idle(60), engine.snapshot()
    snaps = engine.snapshot()
    engine.stop()
    return snaps


def _newest(snaps: list) -> dict[str, object]:
    newest: dict[str, object] = {}
    for snap in sorted(snaps, key=lambda s: s.id):
        newest[snap.source_path] = snap
    return newest


def test_another_account_gets_the_file(make_engine: MakeEngine, live_server: ServerHandle,
                                       server_config: ServerConfig, tmp_path: Path) -> None:
    folder = tmp_path / "Week1"
    text_file(folder / "quiz.txt", 3000)
    bob = add_server_account(server_config.data_dir, "bob")
    _run(make_engine, live_server.url, live_server.token, folder)
    snaps = _run(make_engine, live_server.url, bob, folder)
    assert [s.state for s in _newest(snaps).values()] == [S.DONE]  # type: ignore[attr-defined]
    assert [f["relative_path"] for f in server_files(live_server.url, bob)] == ["Week1/quiz.txt"]
    assert len(server_files(live_server.url, live_server.token)) == 1
    # Back with the first account: done there already, nothing is sent again.
    again = _newest(_run(make_engine, live_server.url, live_server.token, folder))
    (snap,) = again.values()
    assert snap.state is S.DONE and snap.reason.code == "already_uploaded"  # type: ignore[attr-defined]
    assert len(server_files(live_server.url, live_server.token)) == 1


def test_a_wrong_token_is_not_told_the_file_is_there(make_engine: MakeEngine,
                                                      live_server: ServerHandle,
                                                      tmp_path: Path) -> None:
    folder = tmp_path / "Week1"
    text_file(folder / "quiz.txt", 3000)
    _run(make_engine, live_server.url, live_server.token, folder)
    engine = make_engine(server_url=live_server.url, token="not-the-right-token-1234")
    engine.add_paths([folder])
    wait_for(lambda: any(s.reason and s.reason.code == "sign_in_needed"
                         for s in engine.snapshot()), 30, describe=engine.snapshot)
    newest = _newest(engine.snapshot())
    assert [s.state for s in newest.values()] != [S.DONE]  # type: ignore[attr-defined]


def test_a_new_place_or_a_named_category_sends_it_there(make_engine: MakeEngine,
                                                        live_server: ServerHandle,
                                                        tmp_path: Path) -> None:
    week = tmp_path / "Week 3"
    answers = text_file(week / "answers.txt", 2000, seed=1)
    text_file(week / "sheet.txt", 2000, seed=2)
    url, token = live_server.url, live_server.token
    _run(make_engine, url, token, answers)  # on its own: "answers.txt"
    _run(make_engine, url, token, week)  # with its folder: "Week 3/answers.txt"
    places = sorted(f["relative_path"] for f in server_files(url, token))
    assert places == ["Week 3/answers.txt", "Week 3/sheet.txt", "answers.txt"]
    _run(make_engine, url, token, answers, category="assessment", recategorize=True)
    stored = {(f["relative_path"], f["category"]) for f in server_files(url, token)}
    assert ("answers.txt", "assessment") in stored
    # The app's drop zone does not name a category: a done file stays done there.
    snaps = _run(make_engine, url, token, answers, category="report")
    assert len(server_files(url, token)) == 4
    assert all(s.state is S.DONE for s in snaps)


def test_a_file_deleted_on_the_server_since_is_sent_again(make_engine: MakeEngine,
                                                          live_server: ServerHandle,
                                                          tmp_path: Path) -> None:
    """A teacher removed a worksheet on the server by mistake and drops it back in."""
    import httpx

    folder = tmp_path / "Week1"
    text_file(folder / "quiz.txt", 3000)
    text_file(folder / "kept.txt", 3000, seed=3)
    url, token = live_server.url, live_server.token
    _run(make_engine, url, token, folder)
    quiz = next(f for f in server_files(url, token) if f["filename"] == "quiz.txt")
    gone = httpx.delete(f"{url}/api/v1/files/{quiz['id']}",
                        headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert gone.status_code == 204
    snaps = _newest(_run(make_engine, url, token, folder))
    assert sorted(f["filename"] for f in server_files(url, token)) == ["kept.txt", "quiz.txt"]
    by_name = {s.display_name: s for s in snaps.values()}  # type: ignore[attr-defined]
    assert by_name["quiz.txt"].state is S.DONE
    assert [w.code for w in by_name["quiz.txt"].warnings] == ["removed_from_server"]
    assert by_name["kept.txt"].warnings == ()  # still there: done, not sent again
