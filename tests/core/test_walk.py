"""Folder walking: relative paths, junk skipped, problems reported as entries, never raised."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from toolbox_uploader.core.events import Reason
from toolbox_uploader.core.walk import WalkEntry, walk_paths


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _rels(entries: list[WalkEntry]) -> list[str]:
    return [e.relative_path for e in entries if e.error is None]


def test_relative_paths_include_the_dropped_folder(tmp_path: Path) -> None:
    root = tmp_path / "Lessons"
    _touch(root / "week1" / "a.pdf")
    _touch(root / "week1" / "b.txt")
    _touch(root / "week2" / "deep" / "c.png")
    _touch(root / "intro.docx")
    single = _touch(tmp_path / "single.pdf")
    entries = list(walk_paths([root, single]))
    assert _rels(entries) == [
        "Lessons/intro.docx",
        "Lessons/week1/a.pdf",
        "Lessons/week1/b.txt",
        "Lessons/week2/deep/c.png",
        "single.pdf",
    ]
    assert entries[1].path == root / "week1" / "a.pdf"


def test_junk_and_hidden_folders_are_skipped(tmp_path: Path) -> None:
    root = tmp_path / "Drop"
    for junk in (".DS_Store", "Thumbs.db", "desktop.ini", "~$essay.docx", "._photo.jpg"):
        _touch(root / junk)
    _touch(root / ".git" / "config")
    _touch(root / ".hidden" / "secret.txt")
    _touch(root / "__MACOSX" / "x.txt")
    _touch(root / ".notes.txt")  # a hidden *file* is a real file: kept
    _touch(root / "essay.docx")
    assert _rels(list(walk_paths([root]))) == ["Drop/.notes.txt", "Drop/essay.docx"]


def test_symlink_loop_is_reported_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "Loop"
    _touch(root / "sub" / "a.txt")
    (root / "sub" / "back").symlink_to(root, target_is_directory=True)
    (root / "self").symlink_to(root / "self")
    entries = list(walk_paths([root]))
    assert _rels(entries) == ["Loop/sub/a.txt"]
    errors = {e.relative_path: e.error.code for e in entries if e.error}
    assert errors == {"Loop/self": "symlink_loop", "Loop/sub/back": "symlink_loop"}


def test_broken_link_special_file_and_missing_path(tmp_path: Path) -> None:
    root = tmp_path / "Odd"
    _touch(root / "ok.txt")
    (root / "dangling.pdf").symlink_to(tmp_path / "nowhere.pdf")
    os.mkfifo(root / "pipe")
    entries = list(walk_paths([root, tmp_path / "missing.pdf"]))
    errors = {e.relative_path: e.error.code for e in entries if e.error}
    assert errors == {
        "Odd/dangling.pdf": "broken_link",
        "Odd/pipe": "not_a_file",
        "missing.pdf": "missing_file",
    }
    assert _rels(entries) == ["Odd/ok.txt"]


def test_linked_folder_elsewhere_is_walked_once(tmp_path: Path) -> None:
    shared = _touch(tmp_path / "Shared" / "s.txt").parent
    root = tmp_path / "Root"
    _touch(root / "a.txt")
    (root / "link1").symlink_to(shared, target_is_directory=True)
    (root / "link2").symlink_to(shared, target_is_directory=True)
    assert _rels(list(walk_paths([root]))) == ["Root/a.txt", "Root/link1/s.txt"]



LOOP_MESSAGE = "This link points back to a folder that contains it; skipped."


def test_link_to_a_parent_of_the_dropped_folder_is_refused_right_there(tmp_path: Path) -> None:
    parent = tmp_path / "P"
    child = parent / "child"
    _touch(parent / "private.txt", b"private")
    _touch(child / "lesson.pdf")
    (child / "up").symlink_to(parent, target_is_directory=True)
    entries = list(walk_paths([child]))
    assert _rels(entries) == ["child/lesson.pdf"]
    assert all(not e.relative_path.startswith("child/up/") for e in entries)
    errors = {e.relative_path: e.error for e in entries if e.error}
    assert errors == {"child/up": Reason("symlink_loop", LOOP_MESSAGE)}


def test_link_to_a_grandparent_deep_inside_the_drop_is_refused(tmp_path: Path) -> None:
    _touch(tmp_path / "G" / "outside.txt")
    root = tmp_path / "G" / "P" / "Drop"
    _touch(root / "sub" / "a.txt")
    (root / "sub" / "top").symlink_to(tmp_path / "G", target_is_directory=True)
    entries = list(walk_paths([root]))
    assert _rels(entries) == ["Drop/sub/a.txt"]
    errors = {e.relative_path: e.error.code for e in entries if e.error}
    assert errors == {"Drop/sub/top": "symlink_loop"}


def test_link_to_the_dropped_folder_itself_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "Drop"
    _touch(root / "a.txt")
    (root / "again").symlink_to(root, target_is_directory=True)
    entries = list(walk_paths([root]))
    assert _rels(entries) == ["Drop/a.txt"]
    errors = {e.relative_path: e.error for e in entries if e.error}
    assert errors == {"Drop/again": Reason("symlink_loop", LOOP_MESSAGE)}


def test_link_to_a_sibling_folder_outside_the_selection_is_followed(tmp_path: Path) -> None:
    parent = tmp_path / "P"
    child = parent / "child"
    _touch(child / "a.txt")
    _touch(parent / "sibling" / "s.txt")
    _touch(parent / "private.txt")
    (child / "sib").symlink_to(parent / "sibling", target_is_directory=True)
    entries = list(walk_paths([child]))
    assert [e for e in entries if e.error] == []
    assert _rels(entries) == ["child/a.txt", "child/sib/s.txt"]


def test_link_inside_a_linked_folder_to_that_folders_parent_is_refused(tmp_path: Path) -> None:
    _touch(tmp_path / "Elsewhere" / "secret.txt")
    shared = _touch(tmp_path / "Elsewhere" / "Shared" / "s.txt").parent
    (shared / "up").symlink_to(tmp_path / "Elsewhere", target_is_directory=True)
    root = tmp_path / "Drop"
    _touch(root / "a.txt")
    (root / "shared").symlink_to(shared, target_is_directory=True)
    entries = list(walk_paths([root]))
    assert _rels(entries) == ["Drop/a.txt", "Drop/shared/s.txt"]
    errors = {e.relative_path: e.error.code for e in entries if e.error}
    assert errors == {"Drop/shared/up": "symlink_loop"}


@pytest.mark.parametrize("link_name", ["Alias", "zz"])
def test_link_to_a_folder_inside_the_drop_never_replaces_the_real_one(
    tmp_path: Path, link_name: str
) -> None:
    root = tmp_path / "L"
    _touch(root / "Lessons" / "l1.txt")
    (root / "Zcurrent").mkdir()
    (root / link_name).symlink_to("Lessons", target_is_directory=True)
    (root / "Zcurrent" / "latest").symlink_to("../Lessons", target_is_directory=True)
    entries = list(walk_paths([root]))
    assert _rels(entries) == ["L/Lessons/l1.txt"]
    assert entries[[e.relative_path for e in entries].index("L/Lessons/l1.txt")].path == (
        root / "Lessons" / "l1.txt")
    assert [e for e in entries if e.error] == []  # the links only repeat it: no rows


def test_link_into_the_drop_through_a_linked_outside_folder_is_skipped(tmp_path: Path) -> None:
    root = tmp_path / "L"
    _touch(root / "Lessons" / "deep" / "d.txt")
    outside = _touch(tmp_path / "Outside" / "o.txt").parent
    (outside / "back").symlink_to(root / "Lessons" / "deep", target_is_directory=True)
    (root / "Aout").symlink_to(outside, target_is_directory=True)
    entries = list(walk_paths([root]))
    assert _rels(entries) == ["L/Aout/o.txt", "L/Lessons/deep/d.txt"]
    assert [e for e in entries if e.error] == []


def test_link_to_a_hidden_folder_inside_the_drop_is_still_followed(tmp_path: Path) -> None:
    root = tmp_path / "L"
    _touch(root / ".build" / "out.pdf")
    (root / "output").symlink_to(".build", target_is_directory=True)
    entries = list(walk_paths([root]))
    assert [e for e in entries if e.error] == []
    assert _rels(entries) == ["L/output/out.pdf"]


def test_link_to_a_file_outside_the_selection_is_still_uploaded(tmp_path: Path) -> None:
    parent = tmp_path / "P"
    child = parent / "child"
    _touch(child / "a.txt")
    outside = _touch(parent / "notes.txt")
    (child / "notes-link.txt").symlink_to(outside)
    entries = list(walk_paths([child]))
    assert [e for e in entries if e.error] == []
    assert _rels(entries) == ["child/a.txt", "child/notes-link.txt"]

@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file; permissions cannot be tested")
def test_unreadable_file_and_folder(tmp_path: Path) -> None:
    root = tmp_path / "Locked"
    secret = _touch(root / "secret.txt")
    closed = _touch(root / "closed" / "x.txt").parent
    secret.chmod(0)
    closed.chmod(0)
    try:
        errors = {e.relative_path: e.error.code for e in walk_paths([root]) if e.error}
    finally:
        secret.chmod(0o600)
        closed.chmod(0o700)
    assert errors == {"Locked/closed": "unreadable", "Locked/secret.txt": "unreadable"}


def test_many_files_stream_lazily(tmp_path: Path) -> None:
    root = tmp_path / "Big"
    for i in range(300):
        _touch(root / f"d{i % 7}" / f"f{i:03}.txt")
    walker = walk_paths([root])
    first = next(walker)
    assert first.relative_path == "Big/d0/f000.txt"
    assert len(list(walker)) == 299


@pytest.mark.parametrize("folder", ["Week\n2", "Week \u202e2"])
def test_a_folder_name_with_control_characters_refuses_its_files(tmp_path: Path,
                                                                folder: str) -> None:
    """Servers refuse such a path: said at the walk, the file is refused before it is sent,
    not failed afterwards with a server's message about metadata."""
    root = tmp_path / "Lessons"
    _touch(root / folder / "a.txt")
    _touch(root / "ok" / "b.txt")
    entries = list(walk_paths([root]))
    assert _rels(entries) == ["Lessons/ok/b.txt"]
    (refused,) = [e for e in entries if e.error is not None]
    assert refused.relative_path == f"Lessons/{folder}/a.txt"
    assert refused.error is not None and refused.error.code == "control_characters"


def test_files_come_in_the_order_a_file_manager_shows(tmp_path: Path) -> None:
    """Rows arrive as the teacher sees the folder: numbers by value, case aside."""
    root = tmp_path / "Week 3"
    for name in ("Worksheet 10.txt", "Worksheet 2.txt", "worksheet 1.txt", "Answers.txt",
                 "b.txt", "Part 2/x.txt", "Part 10/y.txt"):
        _touch(root / name)
    assert _rels(list(walk_paths([root]))) == [  # a folder's files, then its folders
        "Week 3/Answers.txt", "Week 3/b.txt", "Week 3/worksheet 1.txt",
        "Week 3/Worksheet 2.txt", "Week 3/Worksheet 10.txt",
        "Week 3/Part 2/x.txt", "Week 3/Part 10/y.txt"]
