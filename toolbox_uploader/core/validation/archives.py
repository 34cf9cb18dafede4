"""Zip archives and the documents that are zips (DOCX/XLSX/PPTX, OpenDocument, JAR).

Bombs are judged from the central directory (entry count, declared expanded sizes, ratio),
which costs one seek to the end of the file. Nested archives are the exception: to look
inside one we must decompress it, which ``zipfile`` does against the declared size and CRC
(so an entry that lies about its size fails there). Document packages (DOCX, ODT, ...)
inside an archive count as documents, not as nesting, so a zip of slide decks with
embedded charts is not mistaken for a bomb.

Office documents are also checked for what runs or loads when they are opened: a VBA
project (named, or declared in ``[Content_Types].xml``), OpenDocument Basic or script
macros (``Basic/``, ``Scripts/``), and OOXML relationships that fetch a template, frame,
sub-document or OLE object from elsewhere (``TargetMode="External"``: remote template
injection, which brings macros in at opening time while the file itself has none).
"""

from __future__ import annotations

import html
import os
import re
import shutil
import struct
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from toolbox_uploader.core.source_files import open_source
from toolbox_uploader.core.validation.names import EXECUTABLE_EXTENSIONS, effective_extension
from toolbox_uploader.core.validation.ole import report_macros
from toolbox_uploader.core.validation.report import Findings

MAX_RATIO = 100
#: Ratios are only meaningful for real amounts of data: 10 KB of blank lines compresses 300:1.
RATIO_MIN_BYTES = 1024 * 1024
MAX_EXPANDED_BYTES = 2 * 1024**3
MAX_ENTRIES = 10_000
MAX_DEPTH = 2
_SPOOL_IN_MEMORY = 8 * 1024 * 1024

ZIP_TYPES = frozenset(
    {"application/zip", "application/x-zip-compressed", "application/java-archive"}
)
MACRO_EXTENSIONS = frozenset(
    {".docm", ".dotm", ".xlsm", ".xltm", ".xlam", ".pptm", ".potm", ".ppsm", ".ppam", ".sldm"}
)
_PACKAGE_EXTENSIONS = frozenset(
    {".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp", ".odg", ".epub", *MACRO_EXTENSIONS}
)
_OOXML_MAIN = {
    "word/document.xml": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/workbook.xml": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/presentation.xml":
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_OOXML_MACRO = {
    "word/document.xml": "application/vnd.ms-word.document.macroenabled.12",
    "xl/workbook.xml": "application/vnd.ms-excel.sheet.macroenabled.12",
    "ppt/presentation.xml": "application/vnd.ms-powerpoint.presentation.macroenabled.12",
}


#: Relationship types that load content from their target when the document opens.
_REMOTE_LOADED_TYPES = frozenset({"attachedtemplate", "oleobject", "subdocument", "frame"})
_MAX_RELS_BYTES = 1024 * 1024  # one relationships part; larger ones are no writer's
_RELATIONSHIP = re.compile(rb"<(?:[\w.-]+:)?Relationship\b([^>]*)>", re.IGNORECASE)
_ATTRIBUTE = re.compile(rb"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _remote_part(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> str | None:
    """The target of the first relationship that loads a template, frame, sub-document or
    OLE object from outside the package, or ``None``. Only ``.rels`` parts are read (a
    DOCX has three or four, a few hundred bytes each)."""
    for info in infos:
        if not info.filename.lower().endswith(".rels") or info.file_size > _MAX_RELS_BYTES:
            continue
        data = archive.read(info)
        if b"external" not in data.lower():
            continue
        for element in _RELATIONSHIP.finditer(data):
            attrs = {m.group(1).lower().rsplit(b":", 1)[-1]:
                     html.unescape((m.group(2) or m.group(3) or b"").decode("utf-8", "replace"))
                     for m in _ATTRIBUTE.finditer(element.group(1))}
            kind = attrs.get(b"type", "").strip().rsplit("/", 1)[-1].lower()
            if (attrs.get(b"targetmode", "").strip().lower() == "external"
                    and kind in _REMOTE_LOADED_TYPES):
                return attrs.get(b"target", "").strip() or "(no address)"
    return None


@dataclass
class _Totals:
    entries: int = 0
    expanded: int = 0
    compressed: int = 0


def is_zip(head: bytes) -> bool:
    return head.startswith((b"PK\x03\x04", b"PK\x05\x06"))


_END_RECORD = b"PK\x05\x06"
_END_RECORD_SIZE = 22
_CENTRAL_ENTRY = b"PK\x01\x02"
_ZIP64_LOCATOR = b"PK\x06\x07"


def has_zip_at_end(path: Path) -> bool:
    """Whether a ZIP archive ends this file: its end record (plus its comment) is the last
    thing in it and points back at a central directory.

    ZIP readers find an archive from its end, so a PDF, a photo or anything else with a
    ZIP joined after it opens as an archive too (a polyglot: the GIF that was also a Java
    program, a PDF that unzips to a program). Only the last 64 KiB are read. A ZIP stored
    inside a document (an attachment) is followed by the document's own data, so it does
    not end the file and is not taken for one."""
    with open_source(path) as handle:  # one open: never the path again (a pipe swapped in)
        size = os.fstat(handle.fileno()).st_size
        start = max(0, size - _END_RECORD_SIZE - 0xFFFF)
        handle.seek(start)
        tail = handle.read()
        found = tail.rfind(_END_RECORD)
        while found >= 0:
            record = tail[found : found + _END_RECORD_SIZE]
            entries, directory_size = struct.unpack_from("<HI", record.ljust(22, b"\0"), 10)
            (comment,) = struct.unpack_from("<H", record.ljust(22, b"\0"), 20)
            if found + _END_RECORD_SIZE + comment == len(tail) and entries:
                if directory_size == 0xFFFFFFFF:  # ZIP64: sizes are in another record
                    return tail[max(0, found - 20) : found].startswith(_ZIP64_LOCATOR)
                directory = start + found - directory_size
                if 0 <= directory < size:
                    handle.seek(directory)
                    return handle.read(4) == _CENTRAL_ENTRY
            found = tail.rfind(_END_RECORD, 0, found)
    return False


def check_zip(path: Path, filename: str, mime: str, findings: Findings, *,
              student_facing: bool) -> str:
    """Inspect a zip-based file; returns the precise type (e.g. macro-enabled Word)."""
    try:
        with open_source(path) as handle, zipfile.ZipFile(handle) as archive:
            names = archive.namelist()
            refined = _package_type(archive, names, filename, mime, findings,
                                    student_facing=student_facing)
            if findings.stop:
                return refined
            totals = _Totals()
            _walk(archive, 1, totals, findings)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
            NotImplementedError, RuntimeError) as exc:
        findings.reject("archive_damaged", f"The archive is damaged and cannot be read ({exc}).")
        return mime
    bomb_ratio = totals.expanded > MAX_RATIO * max(1, totals.compressed)
    if totals.expanded >= RATIO_MIN_BYTES and bomb_ratio:
        findings.reject(
            "archive_bomb",
            f"The archive expands to {totals.expanded // (1024 * 1024)} MB from "
            f"{max(1, totals.compressed // 1024)} KB (more than {MAX_RATIO}:1): a zip bomb.",
        )
    return refined


def walk_inner_zip(handle: IO[bytes], depth: int, entries: int,
                   findings: Findings) -> tuple[int, int]:
    """Check a zip found inside another kind of archive (a tar) as a nested zip at
    ``depth``, ``entries`` entries having been counted before it; returns the entry count
    and the expanded size it declares. Damage raises as in ``zipfile``."""
    totals = _Totals(entries=entries)
    with zipfile.ZipFile(handle) as archive:
        _walk(archive, depth, totals, findings)
    return totals.entries, totals.expanded


def _package_type(archive: zipfile.ZipFile, names: list[str], filename: str, mime: str,
                  findings: Findings, *, student_facing: bool) -> str:
    lowered = {n.lower() for n in names}
    extension = effective_extension(filename)
    if "META-INF/MANIFEST.MF" in names and any(n.endswith(".class") for n in names):
        findings.reject(
            "executable_content", "This is a Java program (JAR), which cannot be uploaded.",
            stop=True,
        )
        return "application/java-archive"
    ooxml = "[content_types].xml" in lowered
    main = next((part for part in _OOXML_MAIN if part in lowered), None)
    macro = False
    if ooxml:
        macro = any(n.endswith("vbaproject.bin") for n in lowered) or extension in MACRO_EXTENSIONS
        if not macro:
            info = archive.getinfo(next(n for n in names if n.lower() == "[content_types].xml"))
            if info.file_size <= 1024 * 1024:
                types = archive.read(info).lower()
                macro = b"macroenabled" in types or b"vbaproject" in types
    elif "mimetype" in lowered:  # OpenDocument: Basic macros under Basic/, others under Scripts/
        macro = any((n.startswith("basic/") and n.endswith(".xml"))
                    or (n.startswith("scripts/") and not n.endswith("/")) for n in lowered)
    if macro:
        report_macros(findings, student_facing=student_facing)
    remote = _remote_part(archive, archive.infolist()) if ooxml else None
    if remote is not None:
        message = (f"The document loads a template or object from elsewhere when it is opened"
                   f" ({remote[:80]}), which can bring macros in")
        if student_facing:
            findings.reject("remote_template",
                            message + "; save it again without that link (File > Save As).")
        else:
            findings.warn("remote_template", message + ".")
    if ooxml and main:
        return (_OOXML_MACRO if macro else _OOXML_MAIN)[main]
    return mime


def _walk(archive: zipfile.ZipFile, depth: int, totals: _Totals, findings: Findings) -> None:
    infos = archive.infolist()
    totals.entries += len(infos)
    if totals.entries > MAX_ENTRIES:
        findings.reject(
            "archive_too_many_entries",
            f"The archive holds more than {MAX_ENTRIES:,} files.",
        )
        return
    programs: list[str] = []
    for info in infos:
        totals.expanded += info.file_size
        totals.compressed += info.compress_size
        if totals.expanded > MAX_EXPANDED_BYTES:
            findings.reject(
                "archive_too_large_expanded",
                f"The archive expands to more than {MAX_EXPANDED_BYTES // 1024**3} GB.",
            )
            return
        name = info.filename
        if not name:
            findings.reject("archive_damaged", "The archive has an entry without a name.")
            return
        parts = name.replace("\\", "/").split("/")
        if ".." in parts or name.startswith(("/", "\\")):
            findings.reject(
                "archive_path_traversal",
                f"The archive has an entry that would unpack outside its folder ({name!r}).",
            )
        extension = effective_extension(name)
        if extension in EXECUTABLE_EXTENSIONS:
            programs.append(name)
        if info.is_dir() or extension in _PACKAGE_EXTENSIONS:
            continue
        if extension not in {".zip", ""} or not _starts_like_zip(archive, info):
            continue
        if depth >= MAX_DEPTH:
            findings.reject(
                "archive_too_deep",
                f"The archive holds archives inside archives more than {MAX_DEPTH} levels deep.",
            )
            return
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as spool:
            with archive.open(info) as member:
                shutil.copyfileobj(member, spool, 1024 * 1024)
            spool.seek(0)
            with zipfile.ZipFile(_as_binary(spool)) as inner:
                _walk(inner, depth + 1, totals, findings)
        if findings.reasons:
            return
    if programs:
        findings.warn(
            "archive_contains_programs",
            f"The archive contains programs ({programs[0]}); they will not run from the server.",
        )


def _starts_like_zip(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    if info.file_size < 22:
        return False
    with archive.open(info) as member:
        return is_zip(member.read(4))


def _as_binary(spool: tempfile.SpooledTemporaryFile[bytes]) -> IO[bytes]:
    return spool  # type: ignore[return-value]
