"""Scripts in HTML, XML and SVG, found with the standard library's HTML tokenizer.

A regex over the bytes (the seed's approach) misses ``jav&#x61;script:`` and ``<svg:script>``
and cries wolf at a lesson that merely *mentions* ``onload=``. ``html.parser`` tokenizes tags
and attributes and decodes character references, and it copes with XML and SVG too (it is
forgiving and never fetches entities, unlike an XML parser with DTD support). The file is fed
in chunks, so a large page is never held whole, and we stop at the first finding. A page
inside an attribute as a ``data:`` URL (``<iframe src="data:text/html;base64,...">``, which
browsers run) is decoded and checked the same way.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote_to_bytes

from toolbox_uploader.core.source_files import open_source
from toolbox_uploader.core.validation.report import Findings

MARKUP_TYPES = frozenset(
    {"text/html", "application/xhtml+xml", "text/xml", "application/xml", "image/svg+xml"}
)
MARKUP_EXTENSIONS = frozenset({".html", ".htm", ".xhtml", ".xml", ".svg", ".svgz", ".shtml"})
_CHUNK = 64 * 1024
_IGNORED = re.compile(r"[\x00-\x20]")  # browsers drop these inside a URL scheme
_URL_BREAKS = re.compile(r"[\t\n\r]")
_SCRIPT_SCHEMES = ("javascript:", "vbscript:", "livescript:")
_SCRIPT_ELEMENTS = {"script", "handler", "listener"}  # SVG Tiny has <handler>
#: ``data:`` URL types a browser renders as a page or drawing, scripts included.
_MARKUP_DATA_TYPES = ("text/html", "application/xhtml+xml", "image/svg+xml", "text/xml",
                      "application/xml")
_MAX_DATA_DEPTH = 3  # a data: page inside a data: page inside...: deeper is refused


def _data_url_page(value: str) -> str | None:
    """The markup a ``data:`` URL carries, decoded, or ``None`` when it carries none."""
    # URL parsers drop tabs and newlines anywhere and spaces around it; inside the payload
    # a space stays (``<img src=x onerror=...>``).
    header, comma, payload = _URL_BREAKS.sub("", value).strip("\x00 ").partition(",")
    parameters = _IGNORED.sub("", header).lower().removeprefix("data:").split(";")
    if not comma or parameters[0] not in _MARKUP_DATA_TYPES:
        return None
    raw = unquote_to_bytes(payload)
    if "base64" in parameters[1:]:
        try:
            raw = base64.b64decode(raw + b"=" * (-len(raw) % 4))
        except (binascii.Error, ValueError):
            return None  # a browser cannot load it either
    return _decoder_for(raw).decode(raw, final=True)


class _ScriptFinder(HTMLParser):
    def __init__(self, depth: int = 0) -> None:
        super().__init__(convert_charrefs=True)
        self.found: str | None = None
        self.depth = depth

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.found:
            return
        local = tag.rsplit(":", 1)[-1]
        if local in _SCRIPT_ELEMENTS:
            self.found = f"a <{tag}> element"
            return
        for name, value in attrs:
            attr = name.rsplit(":", 1)[-1]
            if not value or not value.strip():
                continue  # an empty attribute runs nothing
            if attr.startswith("on") and len(attr) > 2:
                self.found = f"an event handler ({name}=)"
                return
            cleaned = _IGNORED.sub("", value).lower()
            if cleaned.startswith(_SCRIPT_SCHEMES) or (
                attr == "content" and any(f"url={s}" in cleaned for s in _SCRIPT_SCHEMES)
            ):
                self.found = f"a script link ({name}=\"{value.strip()[:40]}\")"
                return
            if attr == "srcdoc" and find_script_in_text(value, self.depth + 1):
                self.found = "a script inside an embedded frame (srcdoc)"
                return
            if cleaned.startswith("data:"):
                page = _data_url_page(value)
                if page is not None and find_script_in_text(page, self.depth + 1):
                    self.found = f"a script inside an embedded page ({name}=\"data:...\")"
                    return

    handle_startendtag = handle_starttag


def find_script_in_text(text: str, depth: int = 0) -> str | None:
    if depth > _MAX_DATA_DEPTH:
        return "pages embedded in each other too deeply to check"
    finder = _ScriptFinder(depth)
    finder.feed(text)
    finder.close()
    return finder.found


def _decoder_for(first: bytes) -> codecs.IncrementalDecoder:
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return codecs.getincrementaldecoder("utf-16")(errors="replace")
    if first.startswith(codecs.BOM_UTF8):
        return codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
    return codecs.getincrementaldecoder("utf-8")(errors="replace")


def might_have_script(text: str) -> bool:
    """A quick, conservative test run before the parser: ``False`` only when no script can
    be there, because every construct the parser reports needs one of these in the text:

    * ``script`` once whitespace and control characters are removed (``<script>``,
      ``<svg:script>``, ``javascript:``/``vbscript:`` even when split by tabs or newlines,
      which browsers ignore inside URLs), or ``handler``/``listener`` (SVG Tiny);
    * an attribute named ``on...`` with a value (``onerror=``);
    * a numeric character reference that decodes to an ASCII letter or ``:``, the only way
      to spell a scheme without its letters (named references exist for no ASCII letter);
    * a ``data:`` URL of a markup type, whose script may be base64 or percent-encoded.

    It never reports anything itself; it only spares the parser (about 35 µs per tag) on
    ordinary pages, which is most of them.
    """
    lowered = text.lower()
    if "handler" in lowered or "listener" in lowered or _ON_ATTRIBUTE.search(lowered):
        return True
    if "script" in lowered or _SCRIPT_SPREAD.search(lowered) or _DATA_MARKUP.search(lowered):
        return True
    return any(_ascii_reference(m) for m in _NUMERIC_REFERENCE.finditer(lowered))


# No look-behind: a wider net, but a literal start keeps the search fast.
_ON_ATTRIBUTE = re.compile(r"""on[^\s/>='"<]*\s*=""")
_GAP = r"[\x00-\x20\x7f]*"
_SCRIPT_SPREAD = re.compile(_GAP.join("script"))
_NUMERIC_REFERENCE = re.compile(r"&#(x[0-9a-f]+|[0-9]+)")
_DATA_MARKUP = re.compile(
    _GAP.join("data:") + _GAP
    + "(?:" + "|".join(_GAP.join(map(re.escape, t)) for t in _MARKUP_DATA_TYPES) + ")"
)
#: Documents up to this size get the quick test (they are read whole for it).
QUICK_TEST_MAX_BYTES = 8 * 1024 * 1024


def _ascii_reference(match: re.Match[str]) -> bool:
    digits = match.group(1)
    try:
        code = int(digits[1:], 16) if digits.startswith("x") else int(digits)
    except ValueError:
        return True
    return code < 0x80 and (chr(code).isalpha() or chr(code) in ":\t\n\r")


def find_script(path: Path) -> str | None:
    """What script the document contains, described in words, or ``None``."""
    with open_source(path) as handle:
        if os.fstat(handle.fileno()).st_size <= QUICK_TEST_MAX_BYTES:
            data = handle.read()
            text = _decoder_for(data).decode(data, final=True)
            if not might_have_script(text):
                return None
            return find_script_in_text(text)
        finder = _ScriptFinder()
        chunk = handle.read(_CHUNK)
        decoder = _decoder_for(chunk)
        while chunk:
            finder.feed(decoder.decode(chunk))
            if finder.found:
                return finder.found
            chunk = handle.read(_CHUNK)
    finder.feed(decoder.decode(b"", final=True))
    finder.close()
    return finder.found


def check_markup(path: Path, findings: Findings, *, scripts_allowed: bool) -> None:
    try:
        found = find_script(path)
    except (AssertionError, ValueError) as exc:
        # html.parser gives up on some malformed declarations (``<![ x``) with an
        # AssertionError; what it could not read may hide a script.
        found = f"markup the checker cannot read ({exc or type(exc).__name__})"
    if found is None:
        return
    if scripts_allowed:
        findings.warn("script_content", f"The page contains {found}.")
    else:
        findings.reject(
            "script_content",
            f"The page contains {found}; scripts could run in students' browsers. "
            "Remove the script or upload a PDF instead.",
        )
