"""PDF checks: structure, encryption, and active content found in the document's objects.

The seed searched the bytes for ``/js``, which refuses any worksheet that mentions a
``/js`` folder and misses JavaScript inside compressed object streams or behind an escaped
name (``/J#61vaScript``). Here pypdf parses the file and we walk the places a viewer runs
actions from: the catalog's ``/Names /JavaScript`` tree, ``/OpenAction`` and ``/AA``, each
page's ``/AA`` and its annotations' ``/A``/``/AA``, form fields' ``/AA``, bookmarks' ``/A``
(the outline tree), the chained ``/Next`` actions, and the ``<script>`` elements of an XFA
form (Adobe Reader runs those as JavaScript). Embedded files come from
``/Names /EmbeddedFiles`` and file-attachment annotations.

Besides scripts and launch actions, what hands the reader's Windows sign-in (an NTLM hash)
to another computer is refused: actions and links whose target is a network share or a
``file://`` address (``/GoToR``, ``/GoToE``, ``/SubmitForm``, ``/ImportData``, ``/Thread``,
``/URI``; CVE-2018-4993), as are forms that send or load data, or open an attachment, by
themselves (from ``/OpenAction`` or an ``/AA`` trigger other than a click), and Flash
(``/RichMedia``) annotations.

All walks are bounded (a node budget, depths), so a hostile PDF cannot loop us. A file that
needs more than the budget (tens of thousands of links: far more than a 500-page
textbook) is not silently passed: it is refused where students open it and noted elsewhere.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from pypdf import PdfReader
from pypdf.errors import PdfReadError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, StreamObject

from toolbox_uploader.core.source_files import open_source
from toolbox_uploader.core.validation.names import EXECUTABLE_EXTENSIONS, effective_extension
from toolbox_uploader.core.validation.report import Findings

MAX_NODES = 100_000  # objects visited per walk (about 5 s of pypdf parsing) before we stop
MAX_PAGES = 5_000
MAX_XFA_BYTES = 16 * 1024 * 1024  # decoded XFA packets looked into, in all
_TAIL_BYTES = 2048  # Acrobat looks for %%EOF in the last 1024 bytes; allow some slack

logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged files are reported, not logged


#: An XFA ``<script>`` element, with or without a namespace prefix.
_XFA_SCRIPT = re.compile(rb"<(?:[\w.-]+:)?script[\s>/]", re.IGNORECASE)


#: Actions whose ``/F`` names another file or address to open, send to or load from.
_TARGET_ACTIONS = frozenset({"/GoToR", "/GoToE", "/SubmitForm", "/ImportData", "/Thread"})
#: Those that must not run by themselves: they send or load data, or open an attachment.
_AUTO_REFUSED = frozenset({"/SubmitForm", "/ImportData", "/GoToE"})
#: ``/AA`` triggers a person starts (mouse down and up: a click); the others fire by
#: themselves (page opened or shown, document closed, saved or printed, pointer passing).
_CLICK_TRIGGERS = frozenset({"/D", "/U"})
_FILESPEC_KEYS = ("/F", "/UF", "/DOS", "/Unix", "/Mac")


def _resolve(obj: Any) -> Any:
    return obj.get_object() if isinstance(obj, IndirectObject) else obj


def _remote_target(spec: Any) -> str | None:
    """The share or ``file:`` address a file specification (string or dictionary) names."""
    spec = _resolve(spec)
    values = [_resolve(spec.get(k)) for k in _FILESPEC_KEYS] if isinstance(
        spec, DictionaryObject) else [spec]
    for value in values:
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(value, str) and _on_another_computer(value):
            return value
    return None


def _on_another_computer(target: str) -> bool:
    """A network share (``\\\\server\\share``, ``//server/share``, ``smb:``) or a ``file:``
    address with a host; ``file:///C:/...`` is this computer's own disk."""
    text = target.strip().lower().replace("\\", "/")
    if text.startswith("smb:"):
        return True
    if text.startswith("file:"):
        text = text[5:]
        if text.startswith("///"):
            return text.startswith("////")  # file:////server/share is a share
        if text.startswith("//"):
            return text[2:].split("/", 1)[0] not in ("", "localhost")
        return False
    return text.startswith("//")


class _Scan:
    def __init__(self) -> None:
        self.javascript = False
        self.launch = False
        self.remote: str | None = None  # a share or file: address an action goes to
        self.automatic: str | None = None  # an action that sends or opens by itself
        self.rich_media = False
        self.embedded: list[str] = []
        self.budget = MAX_NODES
        self.incomplete = False  # a bound was reached: part of the file was not looked at

    def spend(self) -> bool:
        self.budget -= 1
        if self.budget > 0:
            return True
        self.incomplete = True
        return False

    def within(self, depth: int, limit: int) -> bool:
        if depth <= limit:
            return True
        self.incomplete = True
        return False

    def action(self, obj: Any, depth: int = 0, *, automatic: bool = False) -> None:
        """One action dictionary (and its /Next chain); ``automatic`` when nobody clicks."""
        action = _resolve(obj)
        if not self.within(depth, 32) or not self.spend():
            return
        if isinstance(action, ArrayObject):
            for item in action:
                self.action(item, depth + 1, automatic=automatic)
            return
        if not isinstance(action, DictionaryObject):
            return
        kind = action.get("/S")
        if kind in {"/JavaScript", "/Rendition"} and ("/JS" in action or kind == "/JavaScript"):
            self.javascript = True
        elif kind == "/Launch":
            self.launch = True
        elif kind == "/URI":
            uri = str(_resolve(action.get("/URI", ""))).strip().lower()
            if uri.startswith(("javascript:", "vbscript:")):
                self.javascript = True
            self.remote = self.remote or _remote_target(uri)
        elif kind in _TARGET_ACTIONS:
            self.remote = self.remote or _remote_target(action.get("/F"))
            if automatic and kind in _AUTO_REFUSED:
                self.automatic = self.automatic or str(kind)
        if "/Next" in action:
            self.action(action["/Next"], depth + 1, automatic=automatic)

    def additional_actions(self, holder: DictionaryObject) -> None:
        aa = _resolve(holder.get("/AA"))
        if isinstance(aa, DictionaryObject):
            for trigger, value in aa.items():
                self.action(value, automatic=trigger not in _CLICK_TRIGGERS)

    def name_tree(self, node: Any, depth: int = 0) -> Iterator[tuple[str, Any]]:
        node = _resolve(node)
        if not isinstance(node, DictionaryObject) or not self.within(depth, 32) or (
                not self.spend()):
            return
        names = _resolve(node.get("/Names"))
        if isinstance(names, ArrayObject):
            for i in range(0, len(names) - 1, 2):
                yield str(_resolve(names[i])), names[i + 1]
        kids = _resolve(node.get("/Kids"))
        if isinstance(kids, ArrayObject):
            for kid in kids:
                yield from self.name_tree(kid, depth + 1)

    def filespec(self, spec: Any, fallback: str) -> None:
        spec = _resolve(spec)
        name = fallback
        if isinstance(spec, DictionaryObject):
            name = str(_resolve(spec.get("/UF") or spec.get("/F") or fallback))
        self.embedded.append(name)

    def outlines(self, item: Any) -> None:
        """Each bookmark's action, following ``/First`` (down) and ``/Next`` (along). A
        bookmark seen before is passed over: a damaged tree that loops is not "too big"."""
        pending, seen = [item], set()
        while pending and self.spend():
            ref = pending.pop()
            if isinstance(ref, IndirectObject):
                if ref.idnum in seen:
                    continue
                seen.add(ref.idnum)
            node = _resolve(ref)
            if not isinstance(node, DictionaryObject):
                continue
            if "/A" in node:
                self.action(node["/A"])
            pending.extend(node.raw_get(key) for key in ("/Next", "/First") if key in node)

    def xfa(self, xfa: Any) -> None:
        """An XFA form is one stream or ``[name, stream, ...]``; its scripts are
        ``<script>`` elements."""
        xfa = _resolve(xfa)
        packets = list(xfa[1::2]) if isinstance(xfa, ArrayObject) else [xfa]
        room = MAX_XFA_BYTES
        for packet in packets:
            packet = _resolve(packet)
            if not isinstance(packet, StreamObject) or not self.spend():
                continue
            if room <= 0:
                self.incomplete = True
                return
            data = packet.get_data()[:room]
            room -= len(data)
            if _XFA_SCRIPT.search(data):
                self.javascript = True
                return

    def fields(self, fields: Any, depth: int = 0) -> None:
        fields = _resolve(fields)
        if not isinstance(fields, ArrayObject) or not self.within(depth, 16):
            return
        for field in fields:
            field = _resolve(field)
            if not isinstance(field, DictionaryObject) or not self.spend():
                continue
            self.additional_actions(field)
            if "/A" in field:
                self.action(field["/A"])
            self.fields(field.get("/Kids"), depth + 1)


def _scan(reader: PdfReader) -> _Scan:
    scan = _Scan()
    root = _resolve(reader.trailer["/Root"])
    names = _resolve(root.get("/Names"))
    if isinstance(names, DictionaryObject):
        if "/JavaScript" in names:
            for _, action in scan.name_tree(names["/JavaScript"]):
                scan.javascript = True
                scan.action(action)
        if "/EmbeddedFiles" in names:
            for label, spec in scan.name_tree(names["/EmbeddedFiles"]):
                scan.filespec(spec, label)
    if "/OpenAction" in root:
        scan.action(root["/OpenAction"], automatic=True)
    scan.additional_actions(root)
    acroform = _resolve(root.get("/AcroForm"))
    if isinstance(acroform, DictionaryObject):
        scan.fields(acroform.get("/Fields"))
        if "/XFA" in acroform:
            scan.xfa(acroform["/XFA"])
    for number, page in enumerate(reader.pages):
        if not scan.within(number, MAX_PAGES - 1) or not scan.spend():
            break
        scan.additional_actions(page)
        annots = _resolve(page.get("/Annots"))
        if not isinstance(annots, ArrayObject):
            continue
        for annot in annots:
            annot = _resolve(annot)
            if not isinstance(annot, DictionaryObject) or not scan.spend():
                continue
            if "/A" in annot:
                scan.action(annot["/A"])
            scan.additional_actions(annot)
            if annot.get("/Subtype") == "/FileAttachment":
                scan.filespec(annot.get("/FS"), "attachment")
            elif annot.get("/Subtype") == "/RichMedia":
                scan.rich_media = True
    outlines = _resolve(root.get("/Outlines"))  # last: a long one must not starve the pages
    if isinstance(outlines, DictionaryObject) and "/First" in outlines:
        scan.outlines(outlines.raw_get("/First"))
    return scan


def check_pdf(path: Path, size: int, findings: Findings, *, scripts_allowed: bool,
              student_facing: bool = True) -> None:
    with open_source(path) as handle:  # one open: never the path again (a pipe swapped in)
        head = handle.read(1024)
        handle.seek(max(0, size - _TAIL_BYTES))
        tail = handle.read()
        if b"%PDF-" not in head:
            findings.reject("pdf_damaged",
                            "The file is not a valid PDF (its header is missing).")
            return
        if b"%%EOF" not in tail:
            findings.reject(
                "pdf_damaged",
                "The PDF is incomplete (its end marker is missing); it may not have finished "
                "downloading or saving.",
            )
            return
        handle.seek(0)
        scan = _read(handle, findings)  # pypdf reads lazily: while the file is open
    if scan is None:
        return
    if scan.launch:
        findings.reject(
            "pdf_launch",
            "The PDF tries to start a program when opened (a launch action).",
        )
    if scan.remote:
        findings.reject(
            "pdf_remote_file",
            f"The PDF has a link or action to a file on another computer ({scan.remote[:80]}),"
            " which would hand the reader's Windows sign-in to that computer; remove it, or"
            " link to a web address instead.",
        )
    if scan.automatic:
        findings.reject(
            "pdf_auto_action",
            f"The PDF sends or loads form data, or opens an attachment, by itself when it is"
            f" opened ({scan.automatic[1:]} action); save it again without that action (for"
            " example print to PDF).",
        )
    if scan.rich_media:
        findings.reject(
            "pdf_rich_media",
            "The PDF embeds interactive media (Flash) that runs in the reader; save it again"
            " without it (for example print to PDF).",
        )
    if scan.incomplete:
        _not_fully_checked(findings, student_facing=student_facing)
    if scan.javascript:
        if scripts_allowed:
            findings.warn("pdf_javascript", "The PDF contains JavaScript.")
        else:
            findings.reject(
                "pdf_javascript",
                "The PDF contains JavaScript that runs in the reader; save it again without "
                "scripts (for example print to PDF).",
            )
    if scan.embedded:
        risky = [n for n in scan.embedded if effective_extension(n) in EXECUTABLE_EXTENSIONS]
        if risky:
            findings.reject(
                "pdf_embedded_executable",
                f"The PDF carries an attached program ({risky[0]}).",
            )
        else:
            shown = ", ".join(scan.embedded[:3])
            findings.warn("pdf_embedded_files", f"The PDF has attached files: {shown}.")


def _not_fully_checked(findings: Findings, *, student_facing: bool) -> None:
    """A PDF too big to walk whole: what could not be checked is not given to students."""
    message = (f"The PDF has too many links, bookmarks or form parts to check completely"
               f" (more than {MAX_NODES:,}), so a script or launch action could hide in it")
    if student_facing:
        findings.reject("pdf_not_fully_checked",
                        message + "; split it into smaller PDFs and upload those.")
    else:
        findings.warn("pdf_not_fully_checked", message + ".")


def _read(handle: BinaryIO, findings: Findings) -> _Scan | None:
    """The PDF's scan, or None when it cannot be looked into (said in ``findings``)."""
    try:
        reader = PdfReader(handle, strict=False)
        if reader.is_encrypted:
            try:
                opened = bool(reader.decrypt(""))
            except (NotImplementedError, PdfReadError, ValueError, KeyError):
                opened = False
            if not opened:
                findings.warn(
                    "pdf_encrypted",
                    "The PDF is password-protected, so its contents could not be checked.",
                )
                return None
            findings.warn("pdf_encrypted", "The PDF is encrypted (it opens without a password).")
        return _scan(reader)
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError,
            RecursionError, IndexError) as exc:
        findings.reject("pdf_damaged", f"The PDF is damaged and cannot be read ({exc}).")
        return None
