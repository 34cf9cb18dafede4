"""``validate_file``: run the checks that apply to one file and build its report.

Order matters for the first reason (the one the server and the queue show): name, size,
executable content, then the content check for the detected type, then whether the
category takes that type, then the virus scan (only for files that passed everything
else). Only the head (64 KB) is read up front; type checks seek to what they need.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from toolbox_uploader.core.categories import (
    Category,
    canonical_mime,
    categories_taking,
    get_category,
)
from toolbox_uploader.core.sizes import sizes_apart
from toolbox_uploader.core.source_files import NotRegularFileError, open_source
from toolbox_uploader.core.validation import (
    archives,
    compressed,
    images,
    markup,
    media,
    names,
    ole,
    pdf,
    rtf,
    sniff,
    type_names,
)
from toolbox_uploader.core.validation.report import Findings, ValidationReport
from toolbox_uploader.core.validation.scanner import ScanError, Scanner, ScanTooLarge

_log = logging.getLogger(__name__)

_OFFICE_ZIP_PREFIXES = (
    "application/vnd.openxmlformats-officedocument.",
    "application/vnd.oasis.opendocument.",
    "application/vnd.ms-word.",
    "application/vnd.ms-excel.",
    "application/vnd.ms-powerpoint.",
    "application/epub+zip",
)


_OLE_CONTAINERS = frozenset({"application/x-ole-storage", "application/cdfv2"})
_OLE_DOCUMENTS = frozenset(
    {"application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"}
)


def validate_file(path: Path, category: str, *, filename: str | None = None,
                  scanner: Scanner | None = None) -> ValidationReport:
    """Check one file for ``category``. ``filename`` is the real name when ``path`` is a
    temporary file (the server's ``<id>.part``); name rules and extension checks use it.

    Raises ``UnknownCategoryError`` for an unknown category; everything about the file
    itself ends up in the report, never as an exception."""
    path = Path(path)
    rules = get_category(category)
    display = filename if filename is not None else path.name
    findings = Findings()
    printable = names.printable_name(display)
    if printable != display:
        findings.reject(names.NOT_TEXT_CODE, names.NOT_TEXT_MESSAGE)
        display = printable
    storage = names.check_name(display, findings)
    size, mime = 0, "application/octet-stream"
    head = _read_head(path, findings)
    if head is not None:
        size, head = head
        mime = _check_content(path, head, size, display, rules, findings)
    if scanner is not None and not findings.reasons and head is not None:
        _scan(path, scanner, findings)
    return ValidationReport(
        path=path,
        filename=display,
        category=rules.name,
        verdict=findings.verdict(),
        mime_type=mime,
        size=size,
        reasons=tuple(findings.reasons),
        warnings=tuple(findings.warnings),
        storage_name=storage,
    )


def _read_head(path: Path, findings: Findings) -> tuple[int, bytes] | None:
    try:
        with open_source(path) as handle:  # never hangs on a pipe swapped in meanwhile
            return os.fstat(handle.fileno()).st_size, handle.read(sniff.HEAD_BYTES)
    except OSError as exc:
        _unreadable(exc, findings)
    return None


def _unreadable(exc: OSError, findings: Findings) -> None:
    if isinstance(exc, NotRegularFileError):
        findings.reject("not_a_file", "This is not a regular file (a folder, device or pipe).")
    elif isinstance(exc, FileNotFoundError):
        findings.reject("missing_file", "The file no longer exists.")
    else:
        findings.reject("unreadable", f"The file cannot be read ({exc.strerror or exc}).")


def _check_zip_at_end(path: Path, mime: str, findings: Findings) -> None:
    try:
        hidden = archives.has_zip_at_end(path)
    except OSError as exc:  # replaced since its head was read: said as _read_head says it
        _unreadable(exc, findings)
        return
    if hidden:
        findings.reject(
            "hidden_archive",
            f"The file is {type_names.one_of(mime)} with a ZIP archive joined to its end, so "
            "it also opens as an archive (a way to slip files past these checks); save it "
            "again from the program that made it.",
        )


def _check_content(path: Path, head: bytes, size: int, display: str, rules: Category,
                   findings: Findings) -> str:
    mime = canonical_mime(sniff.libmagic_type(head))
    if size == 0:
        findings.reject("empty_file", "The file is empty.", stop=True)
        return "application/x-empty"
    if size > rules.max_size:
        shown, limit = sizes_apart(size, rules.max_size)
        findings.reject(
            "too_large", f"The file is {shown}; {rules.label} allows at most {limit}.", stop=True
        )
    program = sniff.executable_kind(head, mime)
    if program:
        findings.reject(
            "executable_content",
            f"The content is {program}, whatever its name says; programs cannot be uploaded.",
            stop=True,
        )
    if findings.stop:
        return mime
    try:
        mime = _inspect(path, head, size, display, mime, rules, findings)
        if not archives.is_zip(head):
            _check_zip_at_end(path, mime, findings)
    except Exception as exc:
        # A parser's own failure on a malformed or hostile file (each check catches the
        # errors it knows): what could not be checked is not let through, and the caller
        # gets a reason, not an exception (the server would answer 500).
        _log.warning("content check of %r failed: %r", display, exc)
        findings.reject(
            "content_unreadable",
            f"The content could not be checked as {mime}: it looks damaged "
            f"({type(exc).__name__}).",
            stop=True,
        )
        return mime
    sniff.check_extension(mime, display, findings)
    if findings.stop or findings.reasons:
        return mime
    if not _category_allows(rules, mime):
        findings.reject("type_not_allowed", _not_taken(rules, mime, size))
    return mime


def _inspect(path: Path, head: bytes, size: int, display: str, mime: str, rules: Category,
             findings: Findings) -> str:
    """The content check for the detected type; returns the (possibly refined) type."""
    declared = sniff.type_from_extension(display)
    extension = names.effective_extension(display)
    if mime.startswith("text/"):
        mime = sniff.refine_text_type(mime, display)
    if rtf.is_rtf(head):  # Word takes any ``{\rt`` file as RTF; libmagic wants ``{\rtf``
        rtf.check_rtf(path, findings, student_facing=rules.student_facing)
    elif mime == "image/svg+xml" or mime in markup.MARKUP_TYPES or (
        mime.startswith("text/") and extension in markup.MARKUP_EXTENSIONS
    ):
        markup.check_markup(path, findings, scripts_allowed=rules.scripts_allowed)
    elif mime.startswith("image/"):
        images.check_image(path, mime, findings)
    elif mime == "application/pdf":
        pdf.check_pdf(path, size, findings, scripts_allowed=rules.scripts_allowed,
                      student_facing=rules.student_facing)
    elif archives.is_zip(head) and (
        mime in archives.ZIP_TYPES or mime.startswith(_OFFICE_ZIP_PREFIXES)
        or mime == "application/octet-stream"
    ):
        mime = archives.check_zip(path, display, mime, findings,
                                  student_facing=rules.student_facing)
    elif mime in compressed.COMPRESSED_TYPES:
        compressed.check_compressed(path, head, findings)
    elif mime in _OLE_CONTAINERS or mime in _OLE_DOCUMENTS:
        if mime in _OLE_CONTAINERS and declared in _OLE_DOCUMENTS:
            mime = declared  # libmagic sometimes names only the OLE2 container of .doc/.xls
        ole.check_macros(path, findings, student_facing=rules.student_facing)
    elif mime.startswith(("audio/", "video/")) or mime == "application/octet-stream":
        mime = media.check_media(head, mime, declared, findings)
    return mime


def _not_taken(rules: Category, mime: str, size: int) -> str:
    """The refusal, naming where the file can go instead (label for the app, name for
    ``--category``)."""
    message = f"{rules.label} does not take {type_names.kinds(mime)}"
    elsewhere = [f"{c.label} ({c.name})" for c in categories_taking(mime, size)][:3]
    if not elsewhere:
        return message + "."
    if len(elsewhere) == 1:
        return f"{message}; {elsewhere[0]} does."
    return f"{message}; {', '.join(elsewhere[:-1])} or {elsewhere[-1]} do."


def _category_allows(rules: Category, mime: str) -> bool:
    if rules.allows(mime):
        return True
    # A phone's HEIC photo goes wherever JPEG goes: optimization converts it.
    return mime in images.HEIF_TYPES and images.heif_available() and rules.allows("image/jpeg")


def _scan(path: Path, scanner: Scanner, findings: Findings) -> None:
    try:
        result = scanner.scan(path)
    except ScanTooLarge as exc:
        findings.warn("scan_skipped", f"Not virus-scanned: {exc}.")
        return
    except ScanError as exc:
        findings.reject(
            "scan_failed",
            f"The virus scan could not run ({exc}); the file is held back until it can.",
        )
        return
    if result.infected:
        findings.reject(
            "virus_found",
            f"{scanner.name} found {result.signature or 'malware'} in this file.",
        )
