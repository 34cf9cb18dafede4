"""``toolbox-uploader queue list|retry|clear`` on a real session store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolbox_uploader import paths
from toolbox_uploader.cli import main
from toolbox_uploader.core.lock import StoreLock
from toolbox_uploader.core.session_store import SessionStore
from toolbox_uploader.core.states import ItemState

S = ItemState


@pytest.fixture
def store() -> SessionStore:
    store = SessionStore(paths.session_db_path())
    ids = [store.add(server_key="local", source_path=f"/src/{n}.pdf", relative_path=f"{n}.pdf",
                     display_name=f"{n}.pdf", category="educational_content", size=10,
                     mtime=1.0).id for n in range(4)]
    done, failed, rejected, _queued = ids
    for state in (S.VALIDATING, S.READY, S.UPLOADING, S.VERIFYING, S.DONE):
        store.transition(done, state)
    for state in (S.VALIDATING, S.READY, S.UPLOADING):
        store.transition(failed, state)
    store.transition(failed, S.FAILED, reason_code="quota_exceeded",
                     reason_message="Quota exceeded.", validated_at=1.0)
    store.transition(rejected, S.VALIDATING)
    store.transition(rejected, S.REJECTED, reason_code="type", reason_message="Not allowed.")
    return store


def test_list_json(store: SessionStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["queue", "list", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["state"] for r in rows] == ["done", "failed", "rejected", "queued"]
    assert rows[1]["reason"] == {"code": "quota_exceeded", "message": "Quota exceeded."}
    assert main(["queue", "list", "--state", "failed", "--json"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1
    assert main(["queue", "list"]) == 0
    assert "Quota exceeded." in capsys.readouterr().out


def test_retry_and_clear(store: SessionStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["queue", "retry"]) == 0  # every failed item
    states = [r.state for r in store.items()]
    assert states == [S.DONE, S.READY, S.REJECTED, S.QUEUED]
    assert main(["queue", "retry", "3"]) == 0  # a rejected one, by number
    assert store.get(3).state is S.QUEUED  # type: ignore[union-attr]
    assert main(["queue", "retry", "1"]) == 1  # done items cannot be retried
    assert main(["queue", "retry", "99"]) == 1
    assert main(["queue", "clear"]) == 0
    assert [r.id for r in store.items()] == [2, 3, 4]
    assert main(["queue", "clear", "--all"]) == 0
    assert store.items() == []
    capsys.readouterr()


def test_bad_input(store: SessionStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["queue", "list", "--state", "sleeping"]) == 2
    with pytest.raises(SystemExit) as exc_info:
        main(["queue", "retry", "abc"])
    assert exc_info.value.code == 2
    with pytest.raises(SystemExit):
        main(["queue"])
    assert "Traceback" not in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc_info:
        main(["queue", "retry", "\u00b2"])  # a digit to str.isdigit, not to int
    assert exc_info.value.code == 2
    assert "'\u00b2' is not an item number" in capsys.readouterr().err


def test_refuses_while_an_engine_holds_the_queue(store: SessionStore,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with StoreLock(Path(paths.session_db_path())):
        assert main(["queue", "clear", "--all"]) == 1
    assert "Another ToolBox Uploader" in capsys.readouterr().err
    assert len(store.items()) == 4


def test_empty_queue(capsys: pytest.CaptureFixture[str], app_home: Path) -> None:
    assert main(["queue", "list"]) == 0
    assert "empty" in capsys.readouterr().out
    assert main(["queue", "list", "--json"]) == 0
    assert capsys.readouterr().out == ""
    assert not paths.session_db_path().exists()  # a look creates no queue file
    assert not any(app_home.rglob("*.sqlite3*")) and not any(app_home.rglob("*.lock"))


def test_a_state_filter_with_no_match_does_not_call_the_queue_empty(
        store: SessionStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["queue", "list", "--state", "uploading"]) == 0
    out = capsys.readouterr().out
    assert "empty" not in out
    assert "No item is uploading; the queue holds 4 other item(s)." in out
    assert main(["queue", "list", "--state", "uploading", "--json"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["queue", "list", "--state", ""]) == 2  # a typo, not "every state"
    assert "unknown state ''" in capsys.readouterr().err


def test_an_item_named_twice_is_retried_once(store: SessionStore,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["queue", "retry", "2", "2"]) == 0
    captured = capsys.readouterr()
    assert "1 item(s) back in the queue" in captured.out, captured
    assert store.get(2).state is S.READY  # type: ignore[union-attr]
    assert main(["queue", "retry", "1", "1"]) == 1  # a done item, named twice: one note
    assert capsys.readouterr().err.count("item 1 is done") == 1


def test_a_stored_countdown_is_not_shown_as_if_it_were_now(
        store: SessionStore, capsys: pytest.CaptureFixture[str]) -> None:
    """An item left waiting by a run that gave up: "next try in 4 s" was true back then."""
    queued = store.items()[-1]
    store.transition(queued.id, S.VALIDATING)
    store.transition(queued.id, S.READY, validated_at=1.0, reason_code="server_unreachable",
                     reason_message="Waiting for network, next try in 4 s.")
    assert main(["queue", "list", "--state", "ready", "--json"]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["reason"] == {"code": "server_unreachable", "message": "Waiting for network."}
    assert main(["queue", "list"]) == 0
    out = capsys.readouterr().out
    assert "Waiting for network." in out and "next try" not in out


def _cut_off(store: SessionStore) -> int:
    """Item 4 as a process killed while sending it left it: still "uploading"."""
    queued = store.items()[-1]
    for state in (S.VALIDATING, S.READY, S.UPLOADING):
        store.transition(queued.id, state, **({"validated_at": 1.0} if state is S.READY
                                              else {}))
    return queued.id


def test_an_item_left_uploading_by_a_crash_is_listed_as_interrupted(
        store: SessionStore, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With the lock free nothing runs: "uploading" is only what a dead process wrote."""
    monkeypatch.setenv("COLUMNS", "200")  # one line per row
    item = _cut_off(store)
    assert main(["queue", "list", "--json"]) == 0
    rows = {r["id"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows[item]["state"] == "uploading" and rows[item]["interrupted"] is True
    assert not any(r["interrupted"] or r["live"] for i, r in rows.items() if i != item)
    assert main(["queue", "list"]) == 0
    out = capsys.readouterr().out
    assert "interrupted" in out and "resumes on the next run" in out
    assert "uploading" not in out.replace("while uploading", "")
    assert store.get(item).state is S.UPLOADING  # type: ignore[union-attr]  # not written


def test_list_reads_a_queue_in_use_without_touching_it(
        store: SessionStore, capsys: pytest.CaptureFixture[str]) -> None:
    """Another process owns the queue: ``list`` shows it live, read-only; the others wait."""
    item = _cut_off(store)  # running for real this time: the owner holds the lock
    db = Path(paths.session_db_path())
    files = [db, Path(f"{db}-wal")]
    before = [p.read_bytes() for p in files]
    with StoreLock(db):
        assert main(["queue", "list", "--json"]) == 0
        rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [r["live"] for r in rows] == [True] * 4
        assert rows[-1]["id"] == item and rows[-1]["state"] == "uploading"
        assert rows[-1]["interrupted"] is False
        assert main(["queue", "list"]) == 0
        out = capsys.readouterr().out
        assert out.startswith("Live: another ToolBox Uploader")
        assert "uploading" in out and "interrupted" not in out
        assert main(["queue", "retry"]) == 1  # writing still waits for the owner
        assert "Another ToolBox Uploader" in capsys.readouterr().err
    assert [p.read_bytes() for p in files] == before  # not a byte written, no checkpoint


def test_a_queue_in_use_that_is_not_in_wal_mode_is_not_read(
        store: SessionStore, capsys: pytest.CaptureFixture[str]) -> None:
    """There a reader would hold up its owner's writes: refused as before."""
    import sqlite3

    store.close()
    db = Path(paths.session_db_path())
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")
    with StoreLock(db):
        assert main(["queue", "list"]) == 1
    err = capsys.readouterr().err
    assert "Another ToolBox Uploader" in err and "journal mode delete" in err
