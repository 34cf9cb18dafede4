"""The walk never takes the app's own folders (queue, lock, local server's files and
token), whatever path leads to them, and tells the caller it skipped them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from toolbox_uploader import paths
from toolbox_uploader.core.walk import (
    OWN_FOLDER_CODE,
    WalkTally,
    own_folders_note,
    own_folders_within,
    walk_paths,
)


@pytest.fixture
def home_in_drop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``$TOOLBOX_UPLOADER_HOME`` inside the folder a teacher uploads, with a token in it."""
    top = tmp_path / "Top"
    (top / "Lessons").mkdir(parents=True)
    (top / "Lessons" / "a.pdf").write_bytes(b"%PDF-1.4\n")
    monkeypatch.setenv(paths.HOME_ENV, str(top / "apphome"))
    paths.server_data_dir().joinpath("default-token").write_text("secret")
    paths.session_db_path().write_bytes(b"queue")
    for made in (paths.config_dir, paths.cache_dir, paths.log_dir):  # as a run leaves them
        made()
    return top


def _rels(top: Path, tally: WalkTally | None = None) -> list[str]:
    return [e.relative_path for e in walk_paths([top], tally)]


def test_a_folder_holding_the_app_home_skips_it(home_in_drop: Path) -> None:
    tally = WalkTally()
    assert _rels(home_in_drop, tally) == ["Top/Lessons/a.pdf"]
    assert sorted(p.name for p in tally.own_folders) == ["cache", "config", "data", "logs"]
    note = own_folders_note(tally.own_folders)
    assert note is not None and str(paths.data_dir()) in note


def test_a_relative_path_to_it_skips_it(home_in_drop: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(home_in_drop / "Lessons")
    entries = list(walk_paths([Path("..")]))
    assert [e.relative_path for e in entries] == ["Top/Lessons/a.pdf"]


def test_links_into_the_app_folders_are_skipped(home_in_drop: Path, tmp_path: Path) -> None:
    drop = tmp_path / "Drop"
    drop.mkdir()
    (drop / "notes.txt").write_text("hello")
    (drop / "data").symlink_to(paths.data_dir(), target_is_directory=True)
    (drop / "server").symlink_to(paths.server_data_dir(), target_is_directory=True)
    (drop / "token.txt").symlink_to(paths.server_data_dir() / "default-token")
    tally = WalkTally()
    assert _rels(drop, tally) == ["Drop/notes.txt"]
    assert sorted(p.name for p in tally.own_folders) == ["data", "server", "token.txt"]


def test_a_path_inside_the_app_folders_is_refused_with_a_reason(home_in_drop: Path,
                                                                tmp_path: Path) -> None:
    link = tmp_path / "innocent.txt"
    link.symlink_to(paths.server_data_dir() / "default-token")
    given = [paths.server_data_dir() / "default-token", paths.data_dir(), link]
    entries = list(walk_paths(given))
    assert len(entries) == 3
    assert all(e.error is not None and e.error.code == OWN_FOLDER_CODE for e in entries)


def test_own_folders_within_follows_real_locations(home_in_drop: Path, tmp_path: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(home_in_drop, target_is_directory=True)
    assert {p.name for p in own_folders_within([alias])} == {"cache", "config", "data", "logs"}
    assert own_folders_within([home_in_drop / "Lessons"]) == []
    assert own_folders_note([]) is None


def test_an_unrelated_folder_is_walked_as_before(tmp_path: Path) -> None:
    folder = tmp_path / "Plain"
    folder.mkdir()
    (folder / "b.txt").write_text("b")
    tally = WalkTally()
    assert _rels(folder, tally) == ["Plain/b.txt"] and tally.own_folders == []
    assert os.environ[paths.HOME_ENV]  # the test home of conftest, outside the drop


def test_looking_for_the_app_folders_creates_none(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """``validate`` on a fresh home leaves nothing behind: the walk only looks."""
    home = tmp_path / "fresh-home"
    monkeypatch.setenv(paths.HOME_ENV, str(home))
    (tmp_path / "sheets").mkdir()
    (tmp_path / "sheets" / "a.txt").write_text("hello\n")
    assert [e.relative_path for e in walk_paths([tmp_path / "sheets"])] == ["sheets/a.txt"]
    assert not home.exists()
