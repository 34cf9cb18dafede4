"""RTF documents: packed files, linked and self-updating objects (CVE-2017-0199), remote
templates and DDE fields are refused for students (noted for staff), however the control
words are disguised; equations and pictures pass."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from toolbox_uploader.core.validation import ValidationReport, Verdict, rtf, validate_file


def codes(report: ValidationReport) -> list[str]:
    return [r.code for r in report.reasons]


def ole1(class_name: bytes, *, linked: bool = False) -> str:
    """An object's data as Word writes it: the OLE1 header in hex, then some payload."""
    header = ((0x0501).to_bytes(4, "little") + (1 if linked else 2).to_bytes(4, "little")
              + (len(class_name) + 1).to_bytes(4, "little") + class_name + b"\0")
    return (header + bytes(range(64))).hex()


def document(body: str, header: str = r"{\rtf1\ansi\deff0") -> bytes:
    return (header + r"{\fonttbl{\f0 Times New Roman;}}" + "\n"
            + r"{\pard Worksheet 3\par}" + body + "}\n").encode("latin-1")


EQUATION = (r"{\object\objemb\objw2400\objh400{\*\objclass Equation.3}{\*\objdata "
            + ole1(b"Equation.3") + r"}{\result{\pict\wmetafile8 0100090000}}}")
PACKAGE = (r"{\object\objemb{\*\objclass Package}{\*\objdata " + ole1(b"Package")
           + r"}{\result{\pict\wmetafile8 0100}}}")


def write(tmp_path: Path, data: bytes, name: str = "worksheet.rtf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_plain_rtf_and_equations_pass(tmp_path: Path) -> None:
    path = write(tmp_path, document(r"{\pard x{\super 2}\par}" + EQUATION))
    report = validate_file(path, "educational_content")
    assert report.verdict is Verdict.ACCEPT, report.reasons
    assert report.mime_type == "text/rtf"


@pytest.mark.parametrize("body", [
    PACKAGE,
    # The class Word uses is in the data; the label can lie or be missing.
    r"{\object\objemb{\*\objclass Equation.3}{\*\objdata " + ole1(b"Package") + "}}",
    r"{\object\objemb{\*\objdata " + ole1(b"Package") + "}}",
    # Disguised label: hex escape, a split name, a Unicode escape with its fallback.
    r"{\object\objemb{\*\objclass \'50ack{}age}{\*\objdata 0105}}",
    r"{\object\objemb{\*\objclass \u80?ackage}}",
    r"{\object\objemb{\*\objclass \uc0\u80 ackage}}",
    # Disguised data: spaces, line breaks and an ignorable group inside the hex.
    r"{\object\objemb{\*\objdata 01 05 00 00{\*\junk 4142}02000000" "\n"
    + ole1(b"Package")[16:] + "}}",
    # A huge \bin outside any object does not hide what follows.
    r"{\pict\bin999999999 }" + PACKAGE,
    # Raw bytes after \bin instead of hex.
    r"{\object\objemb{\*\objdata \bin20 "
    + bytes.fromhex(ole1(b"Package"))[:20].decode("latin-1") + "}}",
])
def test_a_packed_file_is_refused_for_students(body: str, tmp_path: Path) -> None:
    path = write(tmp_path, document(body))
    assert codes(validate_file(path, "educational_content")) == ["rtf_package_object"]


@pytest.mark.parametrize("body", [
    # CVE-2017-0199: a linked OLE2Link object updated on opening.
    r"{\object\objautlink\objupdate\rsltpict{\*\objclass Word.Document.8}{\*\objdata "
    + ole1(b"OLE2Link") + "}}",
    r"{\object\objlink{\*\objclass Excel.Sheet.8}}",
    r"{\object\objemb{\*\objdata " + ole1(b"Excel.Sheet.8", linked=True) + "}}",
    # CVE-2017-11882 style: an equation forced to run as the file opens.
    r"{\object\objemb\objupdate{\*\objclass Equation.3}{\*\objdata "
    + ole1(b"Equation.3") + "}}",
    r"{\object\objocx{\*\objclass Forms.HTML:Image.1}}",
])
def test_linked_or_self_updating_objects_are_refused_for_students(
        body: str, tmp_path: Path) -> None:
    path = write(tmp_path, document(body))
    assert codes(validate_file(path, "assessment")) == ["rtf_active_object"]


def test_staff_get_warnings_not_refusals(tmp_path: Path) -> None:
    path = write(tmp_path, document(PACKAGE + r"{\object\objautlink\objupdate}"))
    report = validate_file(path, "administrative")
    assert report.verdict is Verdict.WARN
    assert [w.code for w in report.warnings] == ["rtf_package_object", "rtf_active_object"]


@pytest.mark.parametrize(("body", "code"), [
    (r"{\*\template http://example.test/t.dotm}", "remote_template"),
    (r"{\*\template \\\\server\\share\\t.dotm}", "remote_template"),
    (r"{\field{\*\fldinst {D}DEAUTO c:\\windows\\system32\\cmd.exe \"/c calc\"}"
     r"{\fldrslt x}}", "dde_field"),
])
def test_remote_templates_and_dde_fields_are_refused_for_students(
        body: str, code: str, tmp_path: Path) -> None:
    path = write(tmp_path, document(body))
    assert codes(validate_file(path, "educational_content")) == [code]


def test_a_local_template_and_ordinary_fields_pass(tmp_path: Path) -> None:
    body = (r"{\*\template C:\\Users\\t\\Templates\\Normal.dotm}"
            r"{\field{\*\fldinst HYPERLINK \"https://example.test\"}{\fldrslt link}}"
            r"{\field{\*\fldinst HYPERLINK \"https://example.test/\u-10179?\u-8704?\"}}")
    report = validate_file(write(tmp_path, document(body)), "educational_content")
    assert report.verdict is Verdict.ACCEPT, report.reasons


def test_word_header_that_libmagic_calls_text_is_still_checked(tmp_path: Path) -> None:
    path = write(tmp_path, document(PACKAGE, header=r"{\rtx"), name="notes.doc")
    assert codes(validate_file(path, "educational_content")) == ["rtf_package_object"]


def test_a_file_cut_inside_the_object_is_still_checked(tmp_path: Path) -> None:
    path = write(tmp_path, document("")[:-2] + PACKAGE.encode()[:-20])
    assert codes(validate_file(path, "educational_content")) == ["rtf_package_object"]


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 64, 269, 270, 300, 333, 1000])
@pytest.mark.parametrize("body", [
    PACKAGE,
    r"{\object\objemb{\*\objclass \u80?ackage}}",
    r"{\object\objemb{\*\objdata \bin20 "
    + bytes.fromhex(ole1(b"Package"))[:20].decode("latin-1") + "}}",
])
def test_tokens_cut_by_the_read_size_are_seen_whole(
        chunk: int, body: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rtf, "_CHUNK", chunk)  # the file is read in pieces this long
    data = document(r"{\pict\pngblip " + "ab" * 300 + "}" + body)
    assert rtf.scan(io.BytesIO(data)).package


def test_deep_nesting_is_bounded(tmp_path: Path) -> None:
    path = write(tmp_path, document("{" * 100_000 + PACKAGE + "}" * 100_000))
    assert codes(validate_file(path, "educational_content")) == ["rtf_package_object"]
