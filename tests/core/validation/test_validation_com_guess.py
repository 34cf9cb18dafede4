"""libmagic guesses a headerless DOS ``.COM`` program from a file's first instruction, and
about 1% of random-looking data (encrypted or compressed files, a recording) guesses so.
Such data is not a program; a real DOS or Windows program (``MZ``) still is, and a ``.com``
name is refused by the name rules whatever the content."""

from __future__ import annotations

import random
from pathlib import Path

import magic

from toolbox_uploader.core.validation import Verdict, validate_file


def _data_libmagic_calls_a_com_program() -> bytes:
    rng = random.Random(20261125)
    for _ in range(5000):  # about one in a hundred: found within a few hundred tries
        data = rng.randbytes(16 * 1024)
        if magic.from_buffer(data, mime=True) == "application/x-dosexec":
            return data
    raise AssertionError("no random buffer looked like a COM program to libmagic")


def test_random_data_that_libmagic_calls_a_com_program_is_data(tmp_path: Path) -> None:
    path = tmp_path / "recording.bin"
    path.write_bytes(_data_libmagic_calls_a_com_program())
    report = validate_file(path, "temporary")
    assert report.verdict is not Verdict.REJECT, report.reasons
    assert report.mime_type == "application/octet-stream"


def test_a_real_dos_program_is_still_refused_under_any_name(tmp_path: Path) -> None:
    path = tmp_path / "notes.bin"
    stub = bytearray(b"MZ" + bytes(126))
    stub[0x3C:0x40] = (64).to_bytes(4, "little")  # a DOS stub with no PE header behind it
    path.write_bytes(bytes(stub) + b"\xb4\x09\xcd\x21" + bytes(512))
    report = validate_file(path, "temporary")
    assert report.verdict is Verdict.REJECT
    assert [r.code for r in report.reasons] == ["executable_content"]


def test_a_com_name_is_refused_whatever_the_content(tmp_path: Path) -> None:
    path = tmp_path / "game.com"
    path.write_bytes(_data_libmagic_calls_a_com_program())
    report = validate_file(path, "temporary")
    assert report.verdict is Verdict.REJECT
    assert "executable_extension" in [r.code for r in report.reasons]
