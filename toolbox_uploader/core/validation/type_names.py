"""What a teacher calls a content type: "an MP4 video", not ``video/mp4``.

Refusals and warnings are read in the app and the CLI, so they name the kind of file in
words; the MIME type stays in the report (``mime_type``) for scripts. A type not in the
table is named by its MIME type, which is still exact.
"""

from __future__ import annotations

from toolbox_uploader.core.categories import canonical_mime

_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"

#: One of each kind, with its article (acronyms choose theirs by sound).
_ONE: dict[str, str] = {
    "application/pdf": "a PDF document",
    "application/msword": "a Word document",
    _DOCX: "a Word document",
    "application/vnd.ms-excel": "an Excel workbook",
    _XLSX: "an Excel workbook",
    "application/vnd.ms-powerpoint": "a PowerPoint presentation",
    _PPTX: "a PowerPoint presentation",
    "application/vnd.oasis.opendocument.text": "an OpenDocument text",
    "application/vnd.oasis.opendocument.spreadsheet": "an OpenDocument spreadsheet",
    "application/vnd.oasis.opendocument.presentation": "an OpenDocument presentation",
    "application/vnd.ms-word.document.macroenabled.12": "a Word document with macros",
    "application/vnd.ms-excel.sheet.macroenabled.12": "an Excel workbook with macros",
    "application/vnd.ms-powerpoint.presentation.macroenabled.12":
        "a PowerPoint presentation with macros",
    "text/plain": "a plain-text file",
    "text/csv": "a CSV table",
    "text/tab-separated-values": "a tab-separated table",
    "text/markdown": "a Markdown file",
    "text/html": "an HTML page",
    "text/rtf": "an RTF document",
    "application/xml": "an XML file",
    "application/json": "a JSON file",
    "image/jpeg": "a JPEG image",
    "image/png": "a PNG image",
    "image/gif": "a GIF image",
    "image/webp": "a WebP image",
    "image/heic": "a HEIC photo",
    "image/heif": "a HEIF photo",
    "image/bmp": "a BMP image",
    "image/tiff": "a TIFF image",
    "image/svg+xml": "an SVG drawing",
    "video/mp4": "an MP4 video",
    "video/quicktime": "a QuickTime video",
    "video/webm": "a WebM video",
    "video/x-matroska": "an MKV video",
    "video/x-msvideo": "an AVI video",
    "audio/mp3": "an MP3 recording",
    "audio/mp4": "an M4A recording",
    "audio/ogg": "an Ogg recording",
    "audio/wav": "a WAV recording",
    "application/zip": "a ZIP archive",
    "application/x-7z-compressed": "a 7-Zip archive",
    "application/x-rar": "a RAR archive",
    "application/vnd.rar": "a RAR archive",
    "application/gzip": "a gzip archive",
    "application/x-tar": "a tar archive",
}


def _known(mime: str) -> str | None:
    # The type as given first: an MKV video is a WebM video to the category table.
    return _ONE.get(mime) or _ONE.get(canonical_mime(mime))


def one_of(mime: str) -> str:
    """``image/png`` → "a PNG image"."""
    return _known(mime) or f"a file of type {mime}"


def kinds(mime: str) -> str:
    """``image/png`` → "PNG images"."""
    known = _known(mime)
    if known is None:
        return f"{mime} files"
    noun = known.split(" ", 1)[1]
    return noun.replace(" with macros", "s with macros") if " with " in noun else noun + "s"
