"""File-name rules: what is refused, and a portable storage name for what is merely awkward.

Refused: path traversal, NUL/control characters, more than 255 UTF-8 bytes, and the
extensions Windows runs on a double click (the seed's list plus the script hosts
``.vbs``/``.ps1``/``.hta``/...). Names that are only unportable (``Lesson 1: Intro?.pdf``,
trailing dots or spaces, ``CON``) keep their display name and get a safe storage name plus
a warning. Hidden names (``.notes.txt``) are fine here: the folder walker is what skips junk.
"""

from __future__ import annotations

import os
import re
import unicodedata

from toolbox_uploader.core.validation.report import Findings

MAX_NAME_BYTES = 255

#: Extensions refused whatever the content (seed list + Windows script hosts).
EXECUTABLE_EXTENSIONS = frozenset(
    {
        ".exe", ".bat", ".cmd", ".com", ".scr", ".pif", ".msi", ".dll", ".jar", ".app",
        ".deb", ".rpm",
        ".vbs", ".vbe", ".wsf", ".wsh", ".ps1", ".hta", ".lnk", ".cpl", ".msp", ".apk",
        # Also run, or run what they point at, on a double click (Windows Script Host,
        # shortcuts, registry and setup files, consoles, help, installers; Linux launchers).
        ".js", ".jse", ".ws", ".wsc", ".sct", ".psm1", ".ps1xml", ".psc1", ".msh", ".url",
        ".scf", ".website", ".settingcontent-ms", ".appref-ms", ".application", ".gadget",
        ".reg", ".inf", ".msc", ".mst", ".chm", ".xll", ".xbap", ".appx", ".appxbundle",
        ".msix", ".msixbundle", ".desktop",
    }
)
#: Characters that show as nothing (zero-width space, word joiner, BOM, soft hyphen...): a
#: name read without them is what a person sees, and what some tools save it as.
_INVISIBLE = re.compile(r"[\u00ad\u034f\u115f\u1160\u180e\u200b-\u200f\u2060-\u2064\ufeff]")

_UNPORTABLE = re.compile(r'[<>:"/\\|?*]')
#: C0/C1 controls, the line and paragraph separators (U+2028/9 break a table row or a log
#: line as a newline does), and the bidi embeddings, overrides and isolates that make a name
#: read backwards on screen (``\u202egpj.exe`` shows as ``exe.jpg``).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
#: Windows device names (Microsoft's list includes COM0, LPT0 and the superscript digits).
_RESERVED = frozenset(
    {"con", "prn", "aux", "nul", "conin$", "conout$"}
    | {f"{port}{digit}" for port in ("com", "lpt") for digit in "0123456789\u00b9\u00b2\u00b3"}
)


NOT_TEXT_CODE = "name_not_text"
NOT_TEXT_MESSAGE = ("The name is not readable text (it was written in another character set); "
                    "rename the file.")


def printable_name(name: str) -> str:
    """``name`` as text that can be stored and shown.

    A file name whose bytes are not UTF-8 reaches Python as lone surrogates, which SQLite,
    JSON and a terminal all refuse; its odd bytes are shown as ``\\xNN`` instead."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        try:
            return os.fsencode(name).decode("utf-8", "backslashreplace")
        except UnicodeError:  # surrogates that did not come from the file system
            return name.encode("utf-8", "backslashreplace").decode("utf-8")


def has_control_characters(text: str) -> bool:
    return _CONTROL.search(text) is not None


def effective_extension(name: str) -> str:
    """The extension Windows would act on: trailing dots and spaces are ignored there."""
    stripped = name.rstrip(". ")
    dot = stripped.rfind(".")
    return stripped[dot:].lower() if dot > 0 else ""


def check_name(filename: str, findings: Findings) -> str:
    """Record name problems in ``findings`` and return the storage name to use on servers."""
    if not filename or filename in {".", ".."}:
        findings.reject("bad_name", "The file has no usable name.")
        return "file"
    parts = re.split(r"[/\\]", filename)
    if ".." in parts or filename.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:[/\\]", filename):
        findings.reject(
            "path_traversal",
            f"The name {filename!r} points outside the upload folder (it contains '..' or an "
            "absolute path).",
        )
    if has_control_characters(filename):
        findings.reject(
            "control_characters",
            "The name contains invisible control characters (such as NUL, line breaks, or "
            "ones that reverse how it reads); rename the file.",
        )
    if len(filename.encode("utf-8")) > MAX_NAME_BYTES:
        findings.reject(
            "name_too_long",
            f"The name is longer than {MAX_NAME_BYTES} bytes; shorten it before uploading.",
        )
    extension = _program_extension(filename)
    if extension is not None:
        findings.reject(
            "executable_extension",
            f"Files ending in {extension} are programs and cannot be uploaded.",
        )
    storage = storage_name(filename)
    if storage != unicodedata.normalize("NFC", filename) and not findings.reasons:
        findings.warn(
            "unportable_name",
            f"The name does not work on every computer; it is stored as {storage!r} and shown "
            "under its original name.",
        )
    return storage


def _program_extension(filename: str) -> str | None:
    """The executable extension the name has, or shows, or gets on Windows, else ``None``.

    Besides the name itself: the name as seen (``report.exe`` + a zero-width space ends in
    ``.exe`` on screen, and tools that drop invisible characters save it so), and the name
    before a colon (on NTFS ``report.exe:x`` and ``report.exe::$DATA`` write ``report.exe``)."""
    candidates = [filename]
    if not filename.isascii():
        candidates.append(_INVISIBLE.sub("", filename))
    if ":" in filename:
        candidates.append(filename.split(":", 1)[0])
    for name in candidates:
        extension = effective_extension(name)
        if extension in EXECUTABLE_EXTENSIONS:
            return extension
    return None


def storage_name(filename: str) -> str:
    """A name that is valid on Windows, macOS and Linux, as close to the original as possible."""
    name = unicodedata.normalize("NFC", filename)
    name = _CONTROL.sub("", name)
    name = _UNPORTABLE.sub("_", name).strip(" ").rstrip(". ")
    stem, dot, ext = name.partition(".")
    if stem.lower().rstrip(" ") in _RESERVED:
        name = f"_{name}"
    if not name or set(name) <= {"_", "."}:
        name = "file" + (f".{ext}" if ext and dot else "")
    encoded = name.encode("utf-8")
    if len(encoded) > MAX_NAME_BYTES:
        suffix = effective_extension(name)[:16]
        room = MAX_NAME_BYTES - len(suffix.encode("utf-8"))
        name = encoded[:room].decode("utf-8", "ignore") + suffix
    return name


def clean_relative_path(value: str) -> str:
    """A folder path as ``a/b/c.pdf``: NFC, ``\\`` as ``/``, each part stripped, and empty,
    ``.`` and ``..`` parts dropped. The server stores relative paths in this form and the
    engine compares with it, so both sides must clean the same way (this one function)."""
    parts = (p.strip() for p in re.split(r"[/\\]", unicodedata.normalize("NFC", value)))
    return "/".join(p for p in parts if p not in ("", ".", ".."))
