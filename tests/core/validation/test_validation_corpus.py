"""The generated corpus through ``validate_file``: no false rejects, each bad file refused
with its own reason code, and the edge cases around names, sizes and types."""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from tests.core import corpus
from toolbox_uploader.core.categories import MB, UnknownCategoryError
from toolbox_uploader.core.validation import ValidationReport, Verdict, type_names, validate_file


def codes(report: ValidationReport) -> list[str]:
    return [r.code for r in report.reasons]


def warning_codes(report: ValidationReport) -> list[str]:
    return [w.code for w in report.warnings]


@pytest.mark.parametrize("kind", sorted(corpus.GOOD))
def test_good_files_are_accepted(kind: str, tmp_path: Path) -> None:
    make, category = corpus.GOOD[kind]
    report = validate_file(make(tmp_path), category)
    assert report.accepted, (kind, report.reasons)
    assert report.reasons == ()
    assert report.size > 0


@pytest.mark.parametrize("kind", sorted(corpus.BAD))
def test_bad_files_are_refused_with_their_code(kind: str, tmp_path: Path) -> None:
    make, category, expected = corpus.BAD[kind]
    report = validate_file(make(tmp_path), category)
    assert report.verdict is Verdict.REJECT
    assert codes(report)[0] == expected, report.reasons
    assert all(r.message for r in report.reasons)


def test_detected_types_come_from_content(tmp_path: Path) -> None:
    expected = {
        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "mp4": "video/mp4", "wav": "audio/wav", "mp3": "audio/mp3", "webp": "image/webp",
        "pdf": "application/pdf", "html": "text/html",
    }
    for kind, mime in expected.items():
        make, category = corpus.GOOD[kind]
        folder = tmp_path / kind
        folder.mkdir()
        assert validate_file(make(folder), category).mime_type == mime


def test_pdf_mentioning_js_in_its_text_is_not_a_false_alarm(tmp_path: Path) -> None:
    path = corpus.make_pdf(tmp_path)
    raw = path.read_bytes()
    assert b"/js" in raw and b"javascript" in raw  # the seed's byte search would refuse it
    assert validate_file(path, "student_submission").verdict is Verdict.ACCEPT


def test_javascript_pdf_is_only_a_warning_where_scripts_are_allowed(tmp_path: Path) -> None:
    report = validate_file(corpus.make_pdf_javascript(tmp_path), "temporary")
    assert report.verdict is Verdict.WARN
    assert "pdf_javascript" in warning_codes(report)


def test_launch_action_is_refused_even_in_the_scratch_area(tmp_path: Path) -> None:
    assert codes(validate_file(corpus.make_pdf_launch(tmp_path), "temporary")) == ["pdf_launch"]


def test_pdf_with_an_attached_program_is_refused(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    writer.add_attachment("setup.exe", b"MZ fake")
    path = tmp_path / "attached.pdf"
    with open(path, "wb") as handle:
        writer.write(handle)
    assert codes(validate_file(path, "administrative")) == ["pdf_embedded_executable"]
    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    writer.add_attachment("data.csv", b"a,b\n1,2\n")
    path = tmp_path / "data.pdf"
    with open(path, "wb") as handle:
        writer.write(handle)
    report = validate_file(path, "administrative")
    assert report.verdict is Verdict.WARN and warning_codes(report) == ["pdf_embedded_files"]


def test_encrypted_pdf_is_noted(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    path = tmp_path / "locked.pdf"
    with open(path, "wb") as handle:
        writer.write(handle)
    report = validate_file(path, "educational_content")
    assert report.accepted
    assert "pdf_encrypted" in warning_codes(report)


def test_over_size_for_the_category_uses_a_sparse_file(tmp_path: Path) -> None:
    path = corpus.make_sparse(tmp_path, 25 * MB + 1)
    report = validate_file(path, "assessment")
    assert codes(report) == ["too_large"]
    assert report.size == 25 * MB + 1
    assert validate_file(corpus.make_sparse(tmp_path, 25 * MB, "fits.txt"), "assessment").accepted


def test_a_refused_size_reads_in_the_units_of_the_queue(tmp_path: Path) -> None:
    """The queue says "27.0 MB" for this file, as a file browser does; the refusal must too,
    and a file just past the limit must not read as big as the limit."""
    report = validate_file(corpus.make_sparse(tmp_path, 27_000_000), "assessment")
    assert report.reasons[0].message == "The file is 27.0 MB; Test or quiz allows at most 26.2 MB."
    report = validate_file(corpus.make_sparse(tmp_path, 26_250_000, "near.txt"), "assessment")
    assert report.reasons[0].message == (
        "The file is 26.25 MB; Test or quiz allows at most 26.21 MB.")


def test_a_huge_video_is_checked_from_its_head_only(tmp_path: Path) -> None:
    """A 900 MB sparse MP4 (reading it whole would take seconds) is checked from its head."""
    path = corpus.make_mp4(tmp_path, "lecture.mp4")
    with open(path, "r+b") as handle:
        handle.truncate(900 * MB)
    report = validate_file(path, "temporary")
    assert report.accepted and report.mime_type == "video/mp4"
    assert codes(validate_file(path, "media_resource")) == ["too_large"]


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "..\\evil.txt", "/etc/passwd", "a/../../b.txt", "C:\\x.txt"]
)
def test_traversal_names_are_refused(name: str, tmp_path: Path) -> None:
    report = validate_file(corpus.make_text(tmp_path), "educational_content", filename=name)
    assert "path_traversal" in codes(report)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("bad\x00name.txt", "control_characters"),
        ("tab\there.txt", "control_characters"),
        ("é" * 130 + ".txt", "name_too_long"),
        ("setup.exe", "executable_extension"),
        ("holiday.jpg.scr", "executable_extension"),
        ("run.bat. . ", "executable_extension"),
        ("macro.vbs", "executable_extension"),
    ],
)
def test_refused_names(name: str, code: str, tmp_path: Path) -> None:
    report = validate_file(corpus.make_text(tmp_path), "temporary", filename=name)
    assert code in codes(report)


@pytest.mark.parametrize(
    ("name", "storage"),
    [
        ("Lesson 1: Intro?.pdf", "Lesson 1_ Intro_.pdf"),
        ("notes. ", "notes"),
        ("CON", "_CON"),
        ("con.txt", "_con.txt"),
        ('a<b>c|d"e*.pdf', "a_b_c_d_e_.pdf"),
    ],
)
def test_unportable_names_get_a_storage_name_and_a_warning(name: str, storage: str,
                                                          tmp_path: Path) -> None:
    path = corpus.make_pdf(tmp_path)
    report = validate_file(path, "educational_content", filename=name)
    assert report.accepted
    assert report.filename == name
    assert report.storage_name == storage
    assert "unportable_name" in warning_codes(report)


def test_hidden_names_are_not_refused(tmp_path: Path) -> None:
    report = validate_file(corpus.make_text(tmp_path, ".notes.txt"), "educational_content")
    assert report.verdict is Verdict.ACCEPT
    assert report.storage_name == ".notes.txt"


def test_server_part_file_uses_the_given_filename(tmp_path: Path) -> None:
    """The server validates ``<id>.part`` without extension; the real name comes separately."""
    part = tmp_path / "abc123.part"
    corpus.make_pdf(tmp_path, "abc123.part")
    report = validate_file(part, "educational_content", filename="Worksheet.pdf")
    assert report.verdict is Verdict.ACCEPT and report.filename == "Worksheet.pdf"
    renamed = validate_file(part, "educational_content", filename="Worksheet.txt")
    assert "extension_mismatch" in warning_codes(renamed)
    exe = validate_file(part, "educational_content", filename="Worksheet.exe")
    assert codes(exe) == ["executable_extension"]


def test_extension_disagreeing_with_content_is_a_warning(tmp_path: Path) -> None:
    path = corpus.make_png_alpha(tmp_path, "photo.jpg")
    report = validate_file(path, "media_resource")
    assert report.verdict is Verdict.WARN
    assert report.mime_type == "image/png"
    assert warning_codes(report) == ["extension_mismatch"]
    assert report.warnings[0].message.startswith(
        "The name says .jpg but the content is a PNG image;")


def test_type_not_allowed_in_category(tmp_path: Path) -> None:
    report = validate_file(corpus.make_mp3(tmp_path), "avatar")
    assert codes(report) == ["type_not_allowed"]


def test_a_refused_type_names_the_category_that_takes_it(tmp_path: Path) -> None:
    """A lesson video dropped with the worksheets: the teacher learns where it goes."""
    report = validate_file(corpus.make_mp4(tmp_path), "educational_content")
    assert report.reasons[0].message == (
        "Teaching material does not take MP4 videos; "
        "Photo, video or audio (media_resource) does.")
    # Where no listed category takes it, no advice (the scratch area is never the advice).
    markdown = validate_file(corpus.make_text(tmp_path, "page.md"), "avatar")
    assert markdown.reasons[0].message.endswith("does not take Markdown files.")
    # A type without a name of its own is named exactly.
    assert type_names.kinds("application/x-foo") == "application/x-foo files"
    assert type_names.one_of("video/x-matroska") == "an MKV video"


def test_unknown_category_raises(tmp_path: Path) -> None:
    with pytest.raises(UnknownCategoryError):
        validate_file(corpus.make_text(tmp_path), "nope")


def test_missing_file_and_folder_are_reported_not_raised(tmp_path: Path) -> None:
    assert codes(validate_file(tmp_path / "gone.pdf", "temporary")) == ["missing_file"]
    assert codes(validate_file(tmp_path, "temporary", filename="x")) == ["not_a_file"]


def test_csv_is_recognised_within_text(tmp_path: Path) -> None:
    path = tmp_path / "marks.csv"
    path.write_text("name,mark\nAda,9\nAlan,8\n", encoding="utf-8")
    report = validate_file(path, "assessment")
    assert report.verdict is Verdict.ACCEPT and report.mime_type == "text/csv"


# ------------------------------------------------------------------ images


def _png_header(path: Path, width: int, height: int) -> Path:
    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    struct.pack_into(">II", data, 16, width, height)
    import zlib

    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    return path


def test_image_over_10000_px_is_refused(tmp_path: Path) -> None:
    report = validate_file(_png_header(tmp_path / "panorama.png", 12_000, 100), "media_resource")
    assert codes(report)[0] == "image_too_large"


def test_damaged_image_is_refused(tmp_path: Path) -> None:
    path = corpus.make_png_alpha(tmp_path)
    data = bytearray(path.read_bytes())
    data[40] ^= 0xFF  # breaks a chunk CRC
    path.write_bytes(bytes(data))
    assert codes(validate_file(path, "media_resource")) == ["image_damaged"]


def test_gps_location_is_a_warning(tmp_path: Path) -> None:
    report = validate_file(corpus.make_jpeg_gps_rotated(tmp_path), "avatar")
    assert report.verdict is Verdict.WARN
    assert "location_data" in warning_codes(report)


def test_oversized_exif_is_flagged(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010E] = "x" * 40_000  # ImageDescription, far bigger than any camera writes
    path = tmp_path / "big-exif.png"
    Image.new("RGB", (20, 20)).save(path, "PNG", exif=exif)
    assert "exif_oversized" in warning_codes(validate_file(path, "media_resource"))


def test_unsupported_image_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "scan.bmp"
    Image.new("RGB", (10, 10)).save(path, "BMP")
    assert codes(validate_file(path, "temporary")) == ["image_format_unsupported"]


def test_heic_photo_is_accepted_for_conversion(tmp_path: Path) -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    path = tmp_path / "IMG_0001.HEIC"
    Image.new("RGB", (64, 48), (10, 120, 200)).save(path, "HEIF")
    report = validate_file(path, "avatar")
    assert report.accepted, report.reasons
    assert report.mime_type == "image/heic"
    assert "heic_converted" in warning_codes(report)


# ------------------------------------------------------------------ markup


def test_markup_mentions_are_not_scripts(tmp_path: Path) -> None:
    page = ("<html><body><p>Never type javascript: or onload= into a form.</p>"
            "<pre>&lt;script&gt;alert(1)&lt;/script&gt;</pre><a href='/onboarding'>x</a>"
            "</body></html>")
    report = validate_file(corpus.make_html(tmp_path, "safety.html", page), "educational_content")
    assert report.verdict is Verdict.ACCEPT


@pytest.mark.parametrize(
    "snippet",
    [
        "<svg:script>alert(1)</svg:script>",
        "<a xlink:href='javascript:alert(1)'>x</a>",
        "<iframe srcdoc=\"&lt;script&gt;x()&lt;/script&gt;\"></iframe>",
        "<body ONLOAD='x()'>",
        "<a href='java\nscript:alert(1)'>x</a>",
        "<a href='javascr\tipt:alert(1)'>x</a>",
        "<a href='&#106;avascript&#58;alert(1)'>x</a>",
        "<a href='&#x6A;&#X61;vascript:alert(1)'>x</a>",
        "<img src=x\x0conerror='x()'>",
        "<img src=\"x\"onerror='x()'>",
        "<meta http-equiv='refresh' content='0;url=javascript:x()'>",
        "<svg><handler type='application/ecmascript'>x()</handler></svg>",
    ],
)
def test_script_variants_are_found(snippet: str, tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(f"<!DOCTYPE html><html>{snippet}</html>", encoding="utf-8")
    assert codes(validate_file(path, "report")) == ["script_content"]


def test_quick_test_spares_the_parser_only_for_harmless_pages() -> None:
    from toolbox_uploader.core.validation.markup import might_have_script

    assert not might_have_script("<p>Rivers &amp; lakes &#8217;s <b>one</b> only on time</p>")
    assert might_have_script("<p>A manuscript</p>")  # then the parser decides: nothing found
    assert might_have_script("<a href='jav&#x61;scr&#105;pt:x'>")
    assert might_have_script("<body onload = 'x()'>")


def test_scripts_are_a_warning_in_the_scratch_area(tmp_path: Path) -> None:
    report = validate_file(corpus.make_html_script(tmp_path), "temporary")
    assert report.verdict is Verdict.WARN and warning_codes(report) == ["script_content"]


# ------------------------------------------------------------------ archives


def test_macro_document_is_only_a_warning_for_staff_categories(tmp_path: Path) -> None:
    path = corpus.make_ooxml(tmp_path, "xlsx", "budget.xlsm", macro=True)
    report = validate_file(path, "administrative")
    assert "macro_document" in warning_codes(report)
    assert "macro_document" in codes(validate_file(path, "assessment"))


def test_jar_is_refused_whatever_its_name(tmp_path: Path) -> None:
    path = tmp_path / "game.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("META-INF/MANIFEST.MF", "Main-Class: Game\n")
        archive.writestr("Game.class", b"\xca\xfe\xba\xbe")
    assert codes(validate_file(path, "temporary")) == ["executable_content"]


def test_zip_slip_entry_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "slip.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("../../.bashrc", "echo hi")
    assert codes(validate_file(path, "temporary")) == ["archive_path_traversal"]


def test_too_many_entries(tmp_path: Path) -> None:
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for i in range(10_001):
            archive.writestr(f"f{i}.txt", b"")
    assert codes(validate_file(path, "temporary")) == ["archive_too_many_entries"]


def test_two_levels_of_nesting_are_fine(tmp_path: Path) -> None:
    report = validate_file(corpus.make_nested_zip(tmp_path, "two.zip", depth=2), "temporary")
    assert report.accepted, report.reasons
    deep = validate_file(corpus.make_nested_zip(tmp_path, "three.zip", depth=3), "temporary")
    assert codes(deep) == ["archive_too_deep"]


def test_damaged_zip(tmp_path: Path) -> None:
    path = tmp_path / "broken.zip"
    path.write_bytes(b"PK\x03\x04" + b"\0" * 200)
    assert codes(validate_file(path, "temporary")) == ["archive_damaged"]


# ------------------------------------------------------------------ media


def test_media_name_without_container_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(500)))
    assert codes(validate_file(path, "media_resource")) == ["media_unrecognized"]


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"\0\0\0\x14ftypqt  \0\0\0\0qt  ", "video/quicktime"),
        (b"\0\0\0\x14ftypM4A \0\0\0\0M4A ", "audio/mp4"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "video/webm"),
        (b"ID3\x04\0\0\0\0\0\0", "audio/mp3"),
        (b"RIFF\0\0\0\0WAVEfmt ", "audio/wav"),
        (b"OggS\0\x02", "audio/ogg"),
        (b"just some words", None),
    ],
)
def test_container_sniffing(head: bytes, mime: str | None) -> None:
    from toolbox_uploader.core.validation.media import sniff_container

    assert sniff_container(head) == mime


def test_report_json_shape(tmp_path: Path) -> None:
    data = validate_file(corpus.make_elf(tmp_path), "educational_content").to_json()
    assert data["verdict"] == "reject"
    assert data["reasons"][0]["code"] == "executable_content"
    assert {"path", "verdict", "mime_type", "size", "reasons", "warnings"} <= data.keys()


# ------------------------------------------------------------------ the server's hook


def test_server_hook_maps_reports_to_outcomes(tmp_path: Path) -> None:
    from toolbox_uploader.server.validation_hook import default_validator

    part = tmp_path / "0123.part"
    part.write_bytes(corpus.make_pdf(tmp_path).read_bytes())
    ok = default_validator(part, "educational_content", "Worksheet.pdf")
    assert (ok.accepted, ok.mime_type, ok.code) == (True, "application/pdf", "ok")
    part.write_bytes(corpus.make_pdf_launch(tmp_path).read_bytes())
    refused = default_validator(part, "educational_content", "Worksheet.pdf")
    assert (refused.accepted, refused.code) == (False, "pdf_launch")
    assert refused.message.startswith("The PDF tries to start a program")
    unknown = default_validator(part, "homework", "Worksheet.pdf")
    assert (unknown.accepted, unknown.code) == (False, "unknown_category")


def test_a_parser_failing_in_an_unforeseen_way_refuses_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stands in for the next bug in a library parser (the standard zipfile here): the file
    # is held back with a reason, and validate_file does not raise.
    def broken(self: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
        raise TypeError("unexpected structure")

    path = corpus.make_zip_ok(tmp_path)
    monkeypatch.setattr(zipfile.ZipFile, "infolist", broken)
    report = validate_file(path, "temporary")
    assert report.verdict is Verdict.REJECT
    assert codes(report) == ["content_unreadable"]
    assert "TypeError" in report.reasons[0].message


def test_a_name_that_reads_backwards_is_refused(tmp_path: Path) -> None:
    path = corpus.make_text(tmp_path, "homework\u202etxt.exe")
    report = validate_file(path, "educational_content")
    assert "control_characters" in codes(report)
    path = corpus.make_text(tmp_path, "\u2067notes\u2069.txt")
    assert codes(validate_file(path, "educational_content")) == ["control_characters"]
