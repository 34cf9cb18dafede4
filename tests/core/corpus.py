"""Generate the validation test corpus: real files of every kind a teacher drags in, and bad ones.

Everything is built by code here (Pillow, pypdf, zipfile, wave, hand-written headers), so the
tests never fetch binaries. Each ``make_*`` function writes one file into ``folder`` and returns
its path. ``GOOD`` and ``BAD`` map a file name to its maker and, for bad files, the reason code
the validator must give.
"""

from __future__ import annotations

import io
import struct
import wave
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

# ---------------------------------------------------------------- old Office (OLE2)

_END, _FREE, _FATSECT, _NONE = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF


def _ole_entry(name: str, kind: int, *, left: int = _NONE, right: int = _NONE,
               child: int = _NONE) -> bytes:
    raw = (name + "\0").encode("utf-16-le") if name else b""
    return (raw.ljust(64, b"\0") + struct.pack("<HBB", len(raw), kind, 1)
            + struct.pack("<III", left, right, child) + b"\0" * 36
            + struct.pack("<IQ", _END, 0))


def make_ole_document(folder: Path, name: str = "plan.doc", *, main: str = "WordDocument",
                      vba_storage: str | None = "Macros") -> Path:
    """A minimal compound file (512-byte sectors) as Word ("WordDocument") or Excel
    ("Workbook") write it; ``vba_storage`` holds ``VBA/_VBA_PROJECT`` when given (Word uses
    ``Macros``, Excel ``_VBA_PROJECT_CUR``). Streams are empty: only the directory matters."""
    entries = [_ole_entry("Root Entry", 5, child=1)]
    if vba_storage:
        entries += [_ole_entry(main, 2, left=2), _ole_entry(vba_storage, 1, child=3),
                    _ole_entry("VBA", 1, child=4), _ole_entry("_VBA_PROJECT", 2)]
    else:
        entries.append(_ole_entry(main, 2))
    while len(entries) % 4:
        entries.append(_ole_entry("", 0))
    directory = b"".join(entries)
    sectors = len(directory) // 512  # directory sectors 1..n follow the FAT in sector 0
    fat = [_FATSECT, *range(2, sectors + 1), _END]
    fat += [_FREE] * (128 - len(fat))
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16
              + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\0" * 6
              + struct.pack("<9I", 0, 1, 1, 0, 4096, _END, 0, _END, 0)
              + struct.pack("<109I", 0, *([_FREE] * 108)))
    path = folder / name
    path.write_bytes(header + struct.pack("<128I", *fat) + directory)
    return path


# ---------------------------------------------------------------- images


def photo(width: int = 640, height: int = 480) -> Image.Image:
    """A gradient with detail, so that JPEG sizes behave like a photo's (not like a flat fill)."""
    gradient = Image.linear_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), 40)
    mirrored = gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return Image.merge("RGB", (gradient, noise, mirrored))


def gps_exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    if orientation is not None:
        exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (51.0, 30.0, 12.5)
    gps[3] = "W"
    gps[4] = (0.0, 7.0, 39.0)
    return exif


def make_jpeg_gps_rotated(folder: Path, name: str = "class photo.jpg") -> Path:
    """640×480 stored sideways with Orientation=6 (display rotated 90° clockwise) and GPS."""
    path = folder / name
    photo(640, 480).save(path, "JPEG", quality=92, exif=gps_exif(orientation=6))
    return path


def make_png_alpha(folder: Path, name: str = "diagram.png") -> Path:
    path = folder / name
    image = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    image.paste((200, 30, 30, 255), (50, 50, 250, 150))
    image.save(path, "PNG")
    return path


def make_gif_animated(folder: Path, name: str = "spinner.gif") -> Path:
    path = folder / name
    frames = []
    for step in range(4):
        frame = Image.new("RGB", (64, 64), (255, 255, 255))
        frame.paste((200, 0, 0), (step * 16, 0, step * 16 + 16, 64))
        frames.append(frame.convert("P", palette=Image.Palette.ADAPTIVE))
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


def make_webp(folder: Path, name: str = "poster.webp") -> Path:
    path = folder / name
    photo(320, 240).save(path, "WEBP", quality=80)
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def make_png_bomb(folder: Path, name: str = "bomb.png", side: int = 40_000) -> Path:
    """A PNG whose header claims side×side pixels (1.6 G pixels) over a few bytes of data."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 4096, 9)
    path = folder / name
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
                     + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b""))
    return path


def make_png_end_first(folder: Path, name: str = "scan.png") -> Path:
    """A PNG whose IEND comes before its IDAT (Pillow's verify fails with an IndexError)."""
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    path = folder / name
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IEND", b"")
                     + _png_chunk(b"IDAT", zlib.compress(b"\0\xff\0\0")))
    return path


# ---------------------------------------------------------------- PDF


def _pdf_page_with_text(writer: PdfWriter, text: str) -> None:
    page = writer.add_blank_page(612, 792)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    stream = DecodedStreamObject()
    stream.set_data(f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1"))
    page[NameObject("/Contents")] = writer._add_object(stream)


def make_pdf(folder: Path, name: str = "worksheet.pdf") -> Path:
    """An ordinary worksheet whose text mentions /js, /JavaScript and javascript: (must pass)."""
    writer = PdfWriter()
    _pdf_page_with_text(writer, "Lesson 4: the /js folder, /JavaScript and javascript: links")
    _pdf_page_with_text(writer, "Page two")
    path = folder / name
    with open(path, "wb") as handle:
        writer.write(handle)
    return path


def make_pdf_javascript(folder: Path, name: str = "quiz.pdf") -> Path:
    writer = PdfWriter()
    _pdf_page_with_text(writer, "Quiz")
    action = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Action"),
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject("app.alert('hello');"),
        }
    )
    tree = DictionaryObject(
        {NameObject("/Names"): ArrayObject([TextStringObject("hello"), writer._add_object(action)])}
    )
    writer._root_object[NameObject("/Names")] = DictionaryObject(
        {NameObject("/JavaScript"): writer._add_object(tree)}
    )
    path = folder / name
    with open(path, "wb") as handle:
        writer.write(handle)
    return path


def make_pdf_launch(folder: Path, name: str = "invoice.pdf") -> Path:
    writer = PdfWriter()
    _pdf_page_with_text(writer, "Open me")
    action = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Action"),
            NameObject("/S"): NameObject("/Launch"),
            NameObject("/F"): TextStringObject("cmd.exe"),
        }
    )
    writer._root_object[NameObject("/OpenAction")] = writer._add_object(action)
    path = folder / name
    with open(path, "wb") as handle:
        writer.write(handle)
    return path


def make_pdf_annotation_js(folder: Path, name: str = "link.pdf") -> Path:
    """JavaScript hidden in a link annotation's action (not in the catalog)."""
    writer = PdfWriter()
    _pdf_page_with_text(writer, "Click")
    action = DictionaryObject(
        {NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("x()")}
    )
    annot = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Link"),
            NameObject("/Rect"): ArrayObject([NumberObject(n) for n in (0, 0, 100, 100)]),
            NameObject("/A"): action,
        }
    )
    writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(annot)])
    path = folder / name
    with open(path, "wb") as handle:
        writer.write(handle)
    return path


def make_pdf_truncated(folder: Path, name: str = "cut.pdf") -> Path:
    good = make_pdf(folder, "tmp-whole.pdf")
    data = good.read_bytes()
    good.unlink()
    path = folder / name
    path.write_bytes(data[: len(data) // 2])
    return path


# ---------------------------------------------------------------- office (OOXML)

_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="{target}"/></Relationships>'
)

_OOXML = {
    "docx": (
        "word/document.xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        "<w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>",
    ),
    "xlsx": (
        "xl/workbook.xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<sheets><sheet name="{text}" sheetId="1"/></sheets></workbook>',
    ),
    "pptx": (
        "ppt/presentation.xml",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main">'
        "<!-- {text} --></p:presentation>",
    ),
}


def make_ooxml(folder: Path, kind: str, name: str | None = None, *, macro: bool = False,
               text: str = "Fractions worksheet", padding: int = 0) -> Path:
    """A minimal but well-formed OOXML package; ``macro`` adds a VBA project like a .docm."""
    part, content_type, body = _OOXML[kind]
    if macro:
        content_type = content_type.replace(".main+xml", "").replace(
            "officedocument.wordprocessingml.document", "ms-word.document.macroEnabled.main+xml"
        )
    types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/{part}" ContentType="{content_type}"/>'
        + ('<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
           if macro else "")
        + "</Types>"
    )
    path = folder / (name or f"document.{kind}")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", types)
        archive.writestr("_rels/.rels", _RELS.format(target=part))
        archive.writestr(part, body.format(text=text))
        if macro:
            vba = b"\xd0\xcf\x11\xe0" + b"\0" * 500  # an OLE2 header, as real VBA projects
            archive.writestr(part.split("/")[0] + "/vbaProject.bin", vba)
        if padding:
            # incompressible filler (an embedded photo, say) to reach a realistic size
            archive.writestr(part.split("/")[0] + "/media/image1.jpeg", _jpeg_bytes(padding),
                             compress_type=zipfile.ZIP_STORED)
    return path


def _jpeg_bytes(approx_size: int) -> bytes:
    side = max(64, int((approx_size / 0.35) ** 0.5))
    buffer = io.BytesIO()
    photo(side, side).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


# ---------------------------------------------------------------- archives


def make_zip_bomb(folder: Path, name: str = "photos.zip", expanded: int = 24 * 1024 * 1024) -> Path:
    path = folder / name
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open("zeros.bin", "w", force_zip64=False) as member,
    ):
        block = b"\0" * (1024 * 1024)
        for _ in range(expanded // len(block)):
            member.write(block)
    return path


def make_nested_zip(folder: Path, name: str = "nested.zip", depth: int = 4) -> Path:
    payload = b"the innermost note\n"
    inner_name = "note.txt"
    for level in range(depth):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(inner_name, payload)
        payload, inner_name = buffer.getvalue(), f"level{level}.zip"
    path = folder / name
    path.write_bytes(payload)
    return path


def make_zip_ok(folder: Path, name: str = "resources.zip") -> Path:
    path = folder / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("readme.txt", "Unit 3 resources\n" * 20)
        archive.writestr("inner.zip", _small_zip())
    return path


def _small_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "a")
    return buffer.getvalue()


# ---------------------------------------------------------------- audio / video


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def make_mp4(folder: Path, name: str = "experiment.mp4") -> Path:
    """ftyp + moov(mvhd) + an empty mdat: the skeleton of an MP4 file."""
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41")
    mvhd = _box(b"mvhd", b"\0\0\0\0" + struct.pack(">IIII", 0, 0, 1000, 0) + b"\0" * 80)
    moov = _box(b"moov", mvhd)
    path = folder / name
    path.write_bytes(ftyp + moov + _box(b"mdat", b"\0" * 1024))
    return path


def make_wav(folder: Path, name: str = "pronunciation.wav") -> Path:
    path = folder / name
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes(range(256)) * 64)
    return path


def make_mp3(folder: Path, name: str = "song.mp3", frames: int = 40) -> Path:
    """MPEG-1 Layer III frames, 128 kbit/s, 44.1 kHz: 417-byte frames with valid headers."""
    header = bytes([0xFF, 0xFB, 0x90, 0x64])
    frame = header + b"\0" * (417 - len(header))
    path = folder / name
    path.write_bytes(frame * frames)
    return path


# ---------------------------------------------------------------- text / markup / executables


def make_text(folder: Path, name: str = "notes.txt") -> Path:
    path = folder / name
    path.write_text("Homework: read chapter 3 and answer questions 1-5.\n" * 40, encoding="utf-8")
    return path


HTML_OK = (
    "<!DOCTYPE html><html><head><title>Plants</title></head><body>"
    "<h1>How plants grow</h1><p>Read about <a href='https://example.org/onions'>onions</a>, "
    "the word javascript: in a sentence, and an <img src='leaf.png' alt='on=leaf'>.</p>"
    "</body></html>"
)


def make_html(folder: Path, name: str = "lesson.html", body: str = HTML_OK) -> Path:
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path


def make_html_script(folder: Path, name: str = "game.html") -> Path:
    return make_html(folder, name, "<!DOCTYPE html><html><body><p>Hi</p>"
                                   "<script>document.location='http://x'</script></body></html>")


def make_html_onerror(folder: Path, name: str = "picture.html") -> Path:
    return make_html(folder, name, "<!DOCTYPE html><html><body>"
                                   "<img src=x onerror=alert(1)></body></html>")


def make_html_js_url(folder: Path, name: str = "links.html") -> Path:
    return make_html(folder, name, "<!DOCTYPE html><html><body><a href=' jav&#x61;script:alert(1)'>"
                                   "click</a></body></html>")


def make_html_broken_declaration(folder: Path, name: str = "page.html") -> Path:
    """``<![`` without a name: Python's HTML parser stops with an AssertionError."""
    path = folder / name
    path.write_text("<!DOCTYPE html><html><head><title>Quiz</title></head><body>"
                    "<p>The script of the play</p><![ x </body></html>", encoding="utf-8")
    return path


def make_zip_unnamed_entry(folder: Path, name: str = "notes.docx") -> Path:
    """A zip with an entry whose name is empty (``ZipInfo.is_dir`` fails on it)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo(""), b"hello")
    path = folder / name
    path.write_bytes(buffer.getvalue())
    return path


def make_svg_script(folder: Path, name: str = "logo.svg") -> Path:
    path = folder / name
    path.write_text(
        '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        '<rect width="10" height="10"/><script type="text/javascript">alert(1)</script></svg>',
        encoding="utf-8",
    )
    return path


def make_elf(folder: Path, name: str = "report.pdf") -> Path:
    """A 64-bit little-endian ELF executable header, named like a PDF."""
    ident = b"\x7fELF\x02\x01\x01" + b"\0" * 9
    header = ident + struct.pack(
        "<HHIQQQIHHHHHH", 2, 0x3E, 1, 0x401000, 64, 0, 0, 64, 56, 1, 64, 0, 0
    )
    path = folder / name
    path.write_bytes(header + b"\0" * 4096)
    return path


def make_pe(folder: Path, name: str = "homework.pdf") -> Path:
    """A DOS stub pointing at a PE header: what a Windows .exe starts with."""
    dos = bytearray(b"MZ" + b"\0" * 62)
    struct.pack_into("<I", dos, 0x3C, 0x80)
    body = bytes(dos) + b"\0" * (0x80 - 64)
    pe = b"PE\0\0" + struct.pack("<HHIIIHH", 0x14C, 1, 0, 0, 0, 0xE0, 0x102) + b"\0" * 0xE0
    path = folder / name
    path.write_bytes(body + pe + b"\0" * 2048)
    return path


def make_macho(folder: Path, name: str = "slides.pptx") -> Path:
    """A 64-bit Mach-O header (macOS program), named like a slide deck."""
    path = folder / name
    path.write_bytes(b"\xcf\xfa\xed\xfe" + struct.pack("<iiIII", 0x01000007, 3, 2, 0, 0)
                     + b"\0" * 4096)
    return path


def make_shebang(folder: Path, name: str = "notes.txt") -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\nrm -rf ~\n", encoding="utf-8")
    return path


def make_empty(folder: Path, name: str = "blank.txt") -> Path:
    path = folder / name
    path.write_bytes(b"")
    return path


def make_sparse(folder: Path, size: int, name: str = "huge.txt") -> Path:
    """A file of ``size`` bytes that takes no disk space: text at the start, then a hole."""
    path = folder / name
    with open(path, "wb") as handle:
        handle.write(b"A long text file\n" * 10)
        handle.truncate(size)
    return path


def make_eicar(folder: Path, name: str = "eicar.txt") -> Path:
    path = folder / name
    path.write_bytes(EICAR)
    return path


Maker = Callable[[Path], Path]

#: file kind -> maker; every one must be accepted for ``GOOD_CATEGORY[kind]``.
GOOD: dict[str, tuple[Maker, str]] = {
    "pdf": (make_pdf, "educational_content"),
    "docx": (lambda d: make_ooxml(d, "docx"), "educational_content"),
    "xlsx": (lambda d: make_ooxml(d, "xlsx"), "educational_content"),
    "pptx": (lambda d: make_ooxml(d, "pptx"), "educational_content"),
    "jpeg": (make_jpeg_gps_rotated, "media_resource"),
    "png": (make_png_alpha, "educational_content"),
    "gif": (make_gif_animated, "media_resource"),
    "webp": (make_webp, "media_resource"),
    "mp4": (make_mp4, "media_resource"),
    "wav": (make_wav, "media_resource"),
    "mp3": (make_mp3, "media_resource"),
    "txt": (make_text, "educational_content"),
    "html": (make_html, "educational_content"),
    "zip": (make_zip_ok, "temporary"),
}

#: file kind -> (maker, category, expected reason code)
BAD: dict[str, tuple[Maker, str, str]] = {
    "elf_as_pdf": (make_elf, "educational_content", "executable_content"),
    "pe_as_pdf": (make_pe, "educational_content", "executable_content"),
    "macho_as_pptx": (make_macho, "educational_content", "executable_content"),
    "shebang": (make_shebang, "temporary", "executable_content"),
    "zip_bomb": (make_zip_bomb, "temporary", "archive_bomb"),
    "nested_zip": (make_nested_zip, "temporary", "archive_too_deep"),
    "html_script": (make_html_script, "educational_content", "script_content"),
    "html_onerror": (make_html_onerror, "educational_content", "script_content"),
    "html_js_url": (make_html_js_url, "educational_content", "script_content"),
    "svg_script": (make_svg_script, "media_resource", "script_content"),
    "pdf_javascript": (make_pdf_javascript, "educational_content", "pdf_javascript"),
    "pdf_annotation_js": (make_pdf_annotation_js, "educational_content", "pdf_javascript"),
    "pdf_launch": (make_pdf_launch, "educational_content", "pdf_launch"),
    "pdf_truncated": (make_pdf_truncated, "educational_content", "pdf_damaged"),
    "png_bomb": (make_png_bomb, "educational_content", "image_bomb"),
    "png_end_first": (make_png_end_first, "educational_content", "image_damaged"),
    "html_broken_declaration": (make_html_broken_declaration, "educational_content",
                                "script_content"),
    "zip_unnamed_entry": (make_zip_unnamed_entry, "educational_content", "archive_damaged"),
    "empty": (make_empty, "educational_content", "empty_file"),
    "docm": (lambda d: make_ooxml(d, "docx", "plan.docm", macro=True), "educational_content",
             "macro_document"),
    "macro_renamed_docx": (lambda d: make_ooxml(d, "docx", "plan.docx", macro=True),
                           "student_submission", "macro_document"),
}
