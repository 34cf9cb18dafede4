"""What the file really is: libmagic on the head, executable signatures, extension agreement.

The type comes from content (libmagic), never from the name. Executables are recognised by
their own signatures as well (ELF, PE, Mach-O, shebang) so that a truncated or odd header
that libmagic calls ``application/octet-stream`` is still caught; MSI and Java archives come
from libmagic and from ``archives.py`` (a zip with ``META-INF/MANIFEST.MF``).
"""

from __future__ import annotations

import mimetypes
import struct
import threading

import magic

from toolbox_uploader.core.categories import canonical_mime
from toolbox_uploader.core.validation import type_names
from toolbox_uploader.core.validation.names import effective_extension
from toolbox_uploader.core.validation.report import Findings

#: How much of the file libmagic and the header checks see.
HEAD_BYTES = 64 * 1024
TEXT_PREFIX_BYTES = 1024

EXECUTABLE_MIME_TYPES = frozenset(
    {
        "application/x-executable",
        "application/x-pie-executable",
        "application/x-sharedlib",
        "application/x-mach-binary",
        "application/x-dosexec",
        "application/x-msdownload",
        "application/x-msdos-program",
        "application/vnd.microsoft.portable-executable",
        "application/x-msi",
        "application/x-ms-installer",
        "application/java-archive",
        "application/x-java-archive",
        "application/x-java-applet",
        "application/x-elf",
        "text/x-shellscript",
    }
)

_MACHO = {
    b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",  # universal binary (and Java class files, also refused)
}

#: Extensions Python's built-in table does not know (it ignores the system's mime.types on
#: purpose, so that results do not depend on the machine).
_EXTRA_TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".docm": "application/vnd.ms-word.document.macroenabled.12",
    ".xlsm": "application/vnd.ms-excel.sheet.macroenabled.12",
    ".pptm": "application/vnd.ms-powerpoint.presentation.macroenabled.12",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".odp": "application/vnd.oasis.opendocument.presentation",
    ".webp": "image/webp",
    ".heif": "image/heif",
    ".m4a": "audio/mp4",
    ".mkv": "video/x-matroska",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".rtf": "text/rtf",
    ".md": "text/markdown",
    ".svg": "image/svg+xml",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".mp3": "audio/mp3",
}

_local = threading.local()
_table = mimetypes.MimeTypes()  # built-in table only: the same answer on every machine


def _magic() -> magic.Magic:
    """One libmagic handle per thread: a handle is not safe to share between threads."""
    handle = getattr(_local, "magic", None)
    if handle is None:
        handle = _local.magic = magic.Magic(mime=True)
    return handle


#: libmagic's names for a DOS or Windows program. A real one starts with ``MZ`` (or ``ZM``);
#: without that header libmagic is guessing a headerless DOS ``.COM`` file from its first
#: instruction (a jump, a ``mov``), and about 1% of random-looking data (compressed,
#: encrypted, a video's middle) guesses so. Such a file runs only under a ``.com`` name,
#: which the name rules refuse, and not at all on 64-bit Windows: it is data.
_DOS_PROGRAM_TYPES = frozenset({
    "application/x-dosexec", "application/x-msdos-program", "application/x-msdownload",
    "application/vnd.microsoft.portable-executable",
})


def libmagic_type(head: bytes) -> str:
    """libmagic's answer, asked about a short prefix first.

    libmagic's text rules are regex searches whose cost grows with the buffer (here, for
    prose: 2.8 ms for 64 KB, 1.0 ms for 2 KB, 0.7 ms for 1 KB, 0.5 ms for 512 bytes; the
    client and the server each pay it for every file). Text formats announce themselves at
    the start (doctype, XML declaration, shebang), so a text answer from the prefix stands;
    an HTML page whose tag comes after a longer comment is called text/plain, and its
    ``.html`` name still sends it through the markup check. Anything else is asked again
    with the whole head, which binary containers (OLE2 directories, zip members) may need
    and which is cheap for binary data."""
    if not head:
        return "application/x-empty"
    handle = _magic()
    if len(head) > TEXT_PREFIX_BYTES:
        quick = handle.from_buffer(head[:TEXT_PREFIX_BYTES])
        if quick.startswith("text/"):
            return quick
    answer = handle.from_buffer(head)
    if answer in _DOS_PROGRAM_TYPES and not head.startswith((b"MZ", b"ZM")):
        return "application/octet-stream"  # a .COM guess (see ``_DOS_PROGRAM_TYPES``)
    return answer


def type_from_extension(filename: str) -> str | None:
    extension = effective_extension(filename)
    if not extension:
        return None
    known = _EXTRA_TYPES.get(extension) or _table.types_map[1].get(extension)
    return canonical_mime(known) if known else None


def executable_kind(head: bytes, mime: str) -> str | None:
    """A short description when the content is a program, else ``None``."""
    if head.startswith(b"\x7fELF"):
        return "a Linux program (ELF)"
    if head[:4] in _MACHO:
        return "a macOS program (Mach-O) or Java class"
    if head.startswith(b"MZ"):
        if len(head) >= 0x40:
            (offset,) = struct.unpack_from("<I", head, 0x3C)
            if head[offset : offset + 4] == b"PE\0\0":
                return "a Windows program (PE)"
        if mime in EXECUTABLE_MIME_TYPES:
            return "a Windows/DOS program"
    body = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    if body.startswith(b"#!"):
        return "a script with a #! interpreter line"
    if mime in EXECUTABLE_MIME_TYPES:
        return {
            "application/x-msi": "a Windows installer (MSI)",
            "application/java-archive": "a Java program (JAR)",
            "application/x-java-archive": "a Java program (JAR)",
        }.get(mime, f"a program ({mime})")
    return None


def _family(mime: str) -> str:
    mime = canonical_mime(mime)
    if mime in {"application/xml", "text/xml"}:
        return "xml"
    if mime.startswith("text/") and mime != "text/html":
        return "text"
    if mime in {"video/x-matroska", "video/webm"}:
        return "matroska"
    if mime in {"video/mp4", "video/quicktime", "audio/mp4"}:
        return "isobmff"
    return mime


_PRECISE_TEXT = frozenset({"text/csv", "text/markdown", "text/tab-separated-values"})


def refine_text_type(mime: str, filename: str) -> str:
    """libmagic calls CSV and Markdown ``text/plain``; within text the extension is more precise."""
    declared = type_from_extension(filename)
    if mime == "text/plain" and declared in _PRECISE_TEXT:
        return declared
    return mime


def check_extension(mime: str, filename: str, findings: Findings) -> None:
    declared = type_from_extension(filename)
    if declared is None or mime in {"application/octet-stream", "application/x-empty"}:
        return
    if _family(declared) != _family(mime):
        findings.warn(
            "extension_mismatch",
            f"The name says {effective_extension(filename)} but the content is "
            f"{type_names.one_of(mime)}; "
            "the content decides how the file is treated.",
        )
