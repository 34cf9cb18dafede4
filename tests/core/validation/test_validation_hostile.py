"""Hostile and damaged files found by probing the validator: each must get the verdict the
README promises, with its own reason code, and never an exception."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from tests.core import corpus
from toolbox_uploader.core.validation import ValidationReport, Verdict, validate_file


def codes(report: ValidationReport) -> list[str]:
    return [r.code for r in report.reasons]


# ------------------------------------------------------------------ macros in .doc/.xls


@pytest.mark.parametrize(("name", "main", "storage"), [
    ("plan.doc", "WordDocument", "Macros"),
    ("marks.xls", "Workbook", "_VBA_PROJECT_CUR"),
])
def test_old_office_file_with_macros_is_refused_for_students(
        name: str, main: str, storage: str, tmp_path: Path) -> None:
    path = corpus.make_ole_document(tmp_path, name, main=main, vba_storage=storage)
    report = validate_file(path, "assessment")
    assert codes(report) == ["macro_document"], report.reasons


def test_old_office_macros_are_only_a_warning_for_staff(tmp_path: Path) -> None:
    path = corpus.make_ole_document(tmp_path, "budget.xls", main="Workbook",
                                    vba_storage="_VBA_PROJECT_CUR")
    report = validate_file(path, "administrative")
    assert report.verdict is Verdict.WARN
    assert [w.code for w in report.warnings] == ["macro_document"]


def test_old_office_file_without_macros_passes(tmp_path: Path) -> None:
    path = corpus.make_ole_document(tmp_path, "plan.doc", vba_storage=None)
    report = validate_file(path, "student_submission")
    assert report.verdict is Verdict.ACCEPT, report.reasons
    assert report.mime_type == "application/msword"


def test_old_office_file_whose_directory_loops_is_refused_not_hung(tmp_path: Path) -> None:
    path = corpus.make_ole_document(tmp_path, "loop.doc")
    data = bytearray(path.read_bytes())
    data[512 + 8 : 512 + 12] = (1).to_bytes(4, "little")  # FAT: sector 1 -> sector 1
    path.write_bytes(bytes(data))
    report = validate_file(path, "student_submission")
    assert codes(report) == ["document_damaged"], report.reasons


# ------------------------------------------------------------------ cut-off images


def _encoded(fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    corpus.photo(320, 240).save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize(("fmt", "options"), [
    ("JPEG", {}), ("JPEG", {"progressive": True}), ("GIF", {}), ("PNG", {}), ("WEBP", {}),
])
@pytest.mark.parametrize("kept", [0.5, 0.97])
def test_an_image_cut_short_is_refused_whatever_its_format(
        fmt: str, options: dict[str, object], kept: float, tmp_path: Path) -> None:
    data = _encoded(fmt, **options)
    path = tmp_path / f"half.{fmt.lower()}"
    path.write_bytes(data[: int(len(data) * kept)])
    assert codes(validate_file(path, "media_resource")) == ["image_damaged"]


@pytest.mark.parametrize("trailer", [b"\0" * 300, b"SEFH" + bytes(range(256)) * 40])
def test_a_whole_jpeg_with_bytes_after_its_end_is_accepted(trailer: bytes,
                                                           tmp_path: Path) -> None:
    """Padding and phone makers' trailers (Samsung's, say) follow the end marker: the
    picture is whole, so the decode that settles it must find nothing wrong."""
    path = tmp_path / "phone.jpg"
    path.write_bytes(_encoded("JPEG") + trailer)
    assert validate_file(path, "media_resource").verdict is Verdict.ACCEPT


def test_a_whole_gif_and_animation_are_accepted(tmp_path: Path) -> None:
    still = tmp_path / "still.gif"
    still.write_bytes(_encoded("GIF"))
    animated = corpus.make_gif_animated(tmp_path)
    for path in (still, animated):
        assert validate_file(path, "media_resource").verdict is Verdict.ACCEPT


# ------------------------------------------------------------------ polyglots


def _zip_bytes(members: dict[str, bytes], comment: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        archive.comment = comment
    return buffer.getvalue()


def test_a_pdf_that_is_also_a_zip_is_refused(tmp_path: Path) -> None:
    path = corpus.make_pdf(tmp_path, "worksheet.pdf")
    path.write_bytes(path.read_bytes() + _zip_bytes({"setup.exe": b"MZ" + bytes(200)}))
    report = validate_file(path, "educational_content")
    assert codes(report) == ["hidden_archive"], report.reasons
    assert "PDF document" in report.reasons[0].message


def test_a_photo_that_is_also_a_java_archive_is_refused(tmp_path: Path) -> None:
    """The GIFAR trick, with a zip comment so that the end record is not the last 22 bytes."""
    jar = _zip_bytes({"META-INF/MANIFEST.MF": b"Main-Class: A\n", "A.class": b"\xca\xfe"},
                     comment=b"x" * 500)
    path = tmp_path / "avatar.jpg"
    path.write_bytes(_encoded("JPEG") + jar)
    assert codes(validate_file(path, "avatar")) == ["hidden_archive"]


def test_a_zip_bomb_behind_a_prefix_is_not_let_into_the_scratch_area(tmp_path: Path) -> None:
    """Zip readers skip leading bytes, so one junk byte used to dodge the bomb check."""
    bomb = corpus.make_zip_bomb(tmp_path)
    path = tmp_path / "photos.dat"
    path.write_bytes(b"\0" + bomb.read_bytes())
    assert validate_file(bomb, "temporary").verdict is Verdict.REJECT
    assert validate_file(path, "temporary").verdict is Verdict.REJECT


def test_a_zip_attached_inside_a_pdf_is_not_a_polyglot(tmp_path: Path) -> None:
    """A stored ZIP in one of the PDF's streams is followed by the PDF's own trailer."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    stream = DecodedStreamObject()
    stream.set_data(_zip_bytes({"notes.txt": b"see you on Monday"}))
    writer._add_object(stream)
    path = tmp_path / "handout.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    assert validate_file(path, "educational_content").verdict is Verdict.ACCEPT


def test_a_picture_past_the_pixel_limit_says_the_limit(tmp_path: Path) -> None:
    """A 10,000 × 9,000 scan is not a "bomb" to the teacher who made it: the refusal says
    how many megapixels are checked, so they know what to make smaller."""
    path = corpus.make_png_bomb(tmp_path, "panorama.png", side=10_000)
    report = validate_file(path, "educational_content")
    assert codes(report) == ["image_bomb"]
    assert "89 megapixels" in report.reasons[0].message
    assert "Make it smaller" in report.reasons[0].message
