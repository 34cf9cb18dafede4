"""RTF checks: embedded objects that Word activates, and links it follows, when a file opens.

RTF is plain text, so macros cannot hide in it, but objects can: an OLE ``Package`` object
carries any file (a program or script one click away), and linked or self-updating objects
(``\\objautlink``, ``\\objlink``, ``\\objupdate``, an ``OLE2Link`` class: CVE-2017-0199) fetch
and run content from a web address or a network share as the document opens. A
``\\*\\template`` that names a web address or share loads a remote template, and a ``DDE``
field starts a program. Equation objects (``Equation.3``) and pictures are ordinary
teaching material and pass.

The class Word uses is the one inside the object's data (the OLE1 header in
``\\objdata``), not the ``\\objclass`` label, so both are read. Attack files disguise control
words (``\\'50ackage``, ``\\u80?``, spaces, ``{\\*\\x}`` groups inside the data), so this
is a small tokenizer rather than a byte search. It streams the file in chunks with a
bounded group stack and bounded text per destination: memory does not grow with the file.
Word opens anything starting ``{\\rt`` as RTF, whatever libmagic calls it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from toolbox_uploader.core.source_files import open_source
from toolbox_uploader.core.validation.report import Findings

SIGNATURE = b"{\\rt"
_CHUNK = 1024 * 1024
_MAX_DEPTH = 4096  # groups tracked; deeper ones share the innermost frame
_MAX_TEXT = 512  # characters kept per destination (a class name, a field's command)
_OBJDATA_HEX = 2048  # hex digits of each object's data read: its OLE1 header
#: One token: a control word with its optional number and space, ``\'xx``, another control
#: symbol, a brace, or a run of text. Text runs (a picture's hex) are skipped in C.
_TOKEN = re.compile(
    rb"\\([a-zA-Z]{1,255})(-?[0-9]{1,10})? ?|\\'([0-9a-fA-F]{2})|\\(.)|([{}])|([^{}\\]+)",
    re.DOTALL,
)
_CONTROL_ROOM = 1 + 255 + 11 + 1  # the longest control token: keep it whole across chunks
_WORDS = rb"(?:objautlink|objlink|objupdate|objocx|objclass|objdata|template|fldinst)"
#: Outside the destinations we read, all that can be passed over: text, escaped characters
#: and other control words. Braces do not matter there: a destination is followed from its
#: control word to the brace that closes its group. ``\\bin`` data is read as text there
#: (at worst a false alarm), so a huge ``\\binN`` cannot hide the rest of the file.
_SKIP = re.compile(rb"(?:[^\\]++|\\[^a-zA-Z]|\\(?!" + _WORDS + rb"(?![a-zA-Z]))[a-zA-Z]++)*+")
_FAST = re.compile(rb"\\(?P<word>" + _WORDS + rb")(?:(?P<number>-?[0-9]{1,10})|(?![a-zA-Z])) ?")
_HEX = re.compile(rb"[0-9a-fA-F]+")
#: Destinations whose text we read; any other ``\*`` destination is skipped, as Word does.
_COLLECTED = frozenset({b"objclass", b"objdata", b"template", b"fldinst"})
#: Object classes that pack a file or follow a link (case-folded, version suffix dropped).
_PACKAGE_CLASSES = frozenset({"package"})
_LINK_CLASSES = frozenset({"ole2link"})
_REMOTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*://|\\\\|//|file:)", re.IGNORECASE)
_DDE = re.compile(r"^\s*dde(?:auto)?\b", re.IGNORECASE)


@dataclass
class _Frame:
    destination: bytes | None = None
    ignored: bool = False  # a ``\*`` destination Word does not know: its text is skipped
    text: bytearray | None = None


@dataclass
class RtfScan:
    """What the file's objects, fields and template do."""

    package: bool = False
    linked: bool = False
    auto_update: bool = False
    activex: bool = False
    remote_template: str | None = None
    dde: bool = False


def is_rtf(head: bytes) -> bool:
    return head.startswith(SIGNATURE)


def scan(handle: BinaryIO) -> RtfScan:
    """Read the whole file once, in chunks; never more than a chunk and a frame stack held."""
    found = RtfScan()
    tokens = _Tokens(found)
    carry = b""
    while True:
        chunk = handle.read(_CHUNK)
        data = carry + chunk
        carry = tokens.feed(data, final=not chunk)
        if not chunk:
            tokens.finish()  # Word reads a file cut inside a group: so do we
            return found


def _safe_cut(data: bytes, position: int, end: int) -> int:
    """Where to stop before the end without splitting ``\\\\`` or ``\\{`` in two."""
    cut = max(position, end - _CONTROL_ROOM)
    run = 0
    while cut - run > position and data[cut - run - 1] == 0x5C:  # backslashes before cut
        run += 1
    return cut - run % 2


class _Tokens:
    """The tokenizer's state between chunks: the open groups we follow and pending skips."""

    def __init__(self, found: RtfScan) -> None:
        self.found = found
        self.stack: list[_Frame] = [_Frame()]
        self.overflow = 0  # groups opened past _MAX_DEPTH
        self.binary = 0  # raw bytes still to skip after ``\binN``
        self.star = False  # the last token was ``\*``
        self.fresh = True  # no token yet in the current group: a ``\*`` here is its mark
        self.unicode_skip = 0  # fallback characters after ``\uN`` still to drop
        self.fallback = 1  # fallback characters after each ``\uN`` (set by ``\ucN``)

    def feed(self, data: bytes, *, final: bool) -> bytes:
        """Handle the tokens of ``data``; returns the tail to prepend to the next chunk.

        Outside the destinations we read, only the control words that matter are looked
        for (a regex, in C); every token is handled only inside them."""
        end = len(data)
        position = self._skip_binary(data, 0)
        while position < end:
            if len(self.stack) == 1:  # outside every destination we read
                match = _FAST.match(data, _SKIP.match(data, position).end())
                if match is None or (not final and match.end() > end - _CONTROL_ROOM):
                    if final:
                        return b""
                    cut = match.start() if match else _safe_cut(data, position, end)
                    return data[cut:]
                position = match.end()
                word, number = match.group("word", "number")
                if word in _COLLECTED:  # the group this word opened is followed from here
                    self.stack.append(_Frame())
                    self.fresh = self.star = False
                self._word(word, number)
                continue
            match = _TOKEN.match(data, position)
            if match is None:  # a lone backslash at the very end
                return b"" if final else data[position:]
            if match.lastindex != 6 and not final and match.end() > end - _CONTROL_ROOM:
                return data[position:]  # a control word may go on in the next chunk
            position = match.end()
            word, number, hexbyte, symbol, brace, text = match.groups()
            if text is not None:
                self._text(text)
            elif brace is not None:
                self._brace(brace)
            elif word is not None:
                self._word(word, number)
                position = self._bin(word, number, data, position)
            elif hexbyte is not None:
                self._char(bytes([int(hexbyte, 16)]))
            elif symbol is not None:
                self.star = symbol == b"*" and self.fresh
                if symbol in b"{}\\":
                    self._char(symbol)
            self.fresh = self.star or brace == b"{"
        return b""

    def _bin(self, word: bytes, number: bytes | None, data: bytes, position: int) -> int:
        """After ``\\binN``: N raw bytes (braces included) that are data, not tokens."""
        if word == b"bin" and number and int(number) > 0:
            self.binary = int(number)
            return self._skip_binary(data, position)
        return position

    def _skip_binary(self, data: bytes, position: int) -> int:
        taken = min(self.binary, len(data) - position)
        if taken:
            self._binary(data[position : position + taken])
            self.binary -= taken
        return position + taken

    def finish(self) -> None:
        while len(self.stack) > 1:
            self.overflow = 0
            self._brace(b"}")

    def _brace(self, brace: bytes) -> None:
        self.star = False
        if brace == b"{":
            if len(self.stack) < _MAX_DEPTH:
                top = self.stack[-1]
                self.stack.append(_Frame(top.destination, top.ignored, top.text))
            else:
                self.overflow += 1
        elif self.overflow:
            self.overflow -= 1
        elif len(self.stack) > 1:
            frame = self.stack.pop()
            if frame.text is not None and frame.text is not self.stack[-1].text:
                self._close(frame)

    def _word(self, word: bytes, number: bytes | None) -> None:
        star, self.star = self.star, False
        frame = self.stack[-1]
        if word == b"u" and number is not None:  # Word writes emoji as two surrogates
            self._char(chr(int(number) % 0x10000).encode("utf-8", "replace"))
            self.unicode_skip = self.fallback
            return
        if word == b"uc" and number is not None:
            self.fallback = min(max(int(number), 0), 16)
            return
        if word in (b"objautlink", b"objlink"):
            self.found.linked = True
        elif word == b"objupdate":
            self.found.auto_update = True
        elif word == b"objocx":
            self.found.activex = True
        if word in _COLLECTED:
            frame.destination, frame.ignored, frame.text = word, False, bytearray()
        elif star:
            frame.ignored = True

    def _char(self, char: bytes) -> None:
        if self.unicode_skip:
            self.unicode_skip -= 1
            return
        self._text(char)

    def _binary(self, data: bytes) -> None:
        """``\\binN`` data: raw bytes, which in an object's data are the data itself."""
        frame = self.stack[-1]
        if frame.destination == b"objdata" and frame.text is not None and not frame.ignored:
            frame.text += data[: max(0, (_OBJDATA_HEX - len(frame.text)) // 2)].hex().encode()

    def _text(self, text: bytes) -> None:
        if self.unicode_skip and text:
            dropped = min(self.unicode_skip, len(text))
            text, self.unicode_skip = text[dropped:], self.unicode_skip - dropped
        frame = self.stack[-1]
        if frame.text is None or frame.ignored or not text:
            return
        if frame.destination == b"objdata":
            room = _OBJDATA_HEX - len(frame.text)
            if room > 0:
                frame.text += b"".join(_HEX.findall(text))[:room]
        elif len(frame.text) < _MAX_TEXT:
            frame.text += text[: _MAX_TEXT - len(frame.text)]

    def _close(self, frame: _Frame) -> None:
        text = bytes(frame.text or b"")
        if frame.destination == b"objclass":
            self._object_class(text.decode("latin-1"))
        elif frame.destination == b"objdata":
            self._object_data(text)
        elif frame.destination == b"template":
            name = text.decode("latin-1").strip()
            if _REMOTE.match(name):
                self.found.remote_template = name
        elif frame.destination == b"fldinst" and _DDE.match(text.decode("latin-1")):
            self.found.dde = True

    def _object_class(self, name: str) -> None:
        name = "".join(name.replace("\0", " ").split()).casefold()
        base = name.split(".", 1)[0]
        if base in _PACKAGE_CLASSES:
            self.found.package = True
        elif base in _LINK_CLASSES:
            self.found.linked = True

    def _object_data(self, digits: bytes) -> None:
        """The OLE1 header: version (4 bytes), format (1 linked, 2 embedded), class name."""
        raw = bytes.fromhex(digits[: len(digits) // 2 * 2].decode("ascii"))
        if len(raw) < 12:
            return
        if int.from_bytes(raw[4:8], "little") == 1:
            self.found.linked = True
        length = int.from_bytes(raw[8:12], "little")
        if 0 < length <= 256:
            self._object_class(raw[12 : 12 + length].split(b"\0", 1)[0].decode("latin-1"))


def check_rtf(path: Path, findings: Findings, *, student_facing: bool) -> None:
    """Refuse (student-facing categories) or note objects and links that act on opening."""
    with open_source(path) as handle:
        found = scan(handle)
    problems: list[tuple[str, str, str]] = []
    if found.package:
        problems.append((
            "rtf_package_object",
            "The RTF document has a file packed inside it (an OLE Package object), which "
            "opens as a program or script with one click",
            "; save it again without the packed file.",
        ))
    if found.linked or found.auto_update or found.activex:
        problems.append((
            "rtf_active_object",
            "The RTF document has an object that is linked to another file or web address, "
            "updates itself, or is an ActiveX control, so it can fetch and run content when "
            "opened",
            "; save it again as .docx without that object.",
        ))
    if found.remote_template:
        problems.append((
            "remote_template",
            "The document loads a template from elsewhere when it is opened "
            f"({found.remote_template[:80]}), which can bring macros in",
            "; save it again without that link (File > Save As).",
        ))
    if found.dde:
        problems.append((
            "dde_field",
            "The document has a DDE field, which asks to start a program when it is opened",
            "; remove the field and save it again.",
        ))
    for code, what, fix in problems:
        if student_facing:
            findings.reject(code, what + fix)
        else:
            findings.warn(code, what + ".")
