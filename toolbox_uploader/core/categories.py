"""The upload categories: size limits and allowed content types, shared by app, CLI and server.

Sizes and the four MIME lists the seed gives (educational_content, student_submission,
media_resource, avatar) are the seed's. Where the seed is silent or too narrow for what
teachers actually drag in, the additions are listed in ``Category.extra_note`` and in
the README ("Categories"):

* educational_content also takes slide decks, spreadsheets, OpenDocument files and
  plain images, because worksheets and slides are the bulk of a teacher's folder;
* assessment, administrative, report get office/PDF/text lists chosen for their use;
* temporary takes any type that is not executable (it is a scratch area);
* MIME names are compared after ``canonical_mime`` so that libmagic's spellings
  (``audio/mpeg``, ``audio/x-wav``) match the seed's (``audio/mp3``, ``audio/wav``).
"""

from __future__ import annotations

from dataclasses import dataclass

MB = 1024 * 1024
GB = 1024 * MB

PDF = "application/pdf"
DOC = "application/msword"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLS = "application/vnd.ms-excel"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPT = "application/vnd.ms-powerpoint"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
ODP = "application/vnd.oasis.opendocument.presentation"
RTF = "text/rtf"
TXT = "text/plain"
CSV = "text/csv"
HTML = "text/html"
JPEG = "image/jpeg"
PNG = "image/png"
WEBP = "image/webp"
GIF = "image/gif"
MP4 = "video/mp4"
WEBM = "video/webm"
MOV = "video/quicktime"
MP3 = "audio/mp3"
WAV = "audio/wav"
OGG_AUDIO = "audio/ogg"
M4A = "audio/mp4"

OFFICE = (DOC, DOCX, XLS, XLSX, PPT, PPTX, ODT, ODS, ODP, RTF)
IMAGES = (JPEG, PNG, WEBP, GIF)

#: libmagic (and browsers) spell some types differently from the table; compare canonically.
MIME_ALIASES: dict[str, str] = {
    "audio/mpeg": MP3,
    "audio/mpeg3": MP3,
    "audio/x-mp3": MP3,
    "audio/x-wav": WAV,
    "audio/wave": WAV,
    "audio/vnd.wave": WAV,
    "audio/x-m4a": M4A,
    "application/rtf": RTF,
    "text/x-rtf": RTF,
    "application/csv": CSV,
    "image/jpg": JPEG,
    "image/pjpeg": JPEG,
    "video/x-matroska": WEBM,
}


def canonical_mime(mime: str) -> str:
    mime = mime.split(";", 1)[0].strip().lower()
    return MIME_ALIASES.get(mime, mime)


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    label: str
    max_size: int
    #: ``None`` means any type that passes the security checks.
    mime_types: frozenset[str] | None
    #: Material students open: macro-enabled documents are refused here.
    student_facing: bool
    #: Whether HTML/SVG with scripts may be stored (only the scratch area allows it).
    scripts_allowed: bool = False
    extra_note: str = ""

    def allows(self, mime: str) -> bool:
        return self.mime_types is None or canonical_mime(mime) in self.mime_types


def _types(*groups: str | tuple[str, ...]) -> frozenset[str]:
    out: set[str] = set()
    for group in groups:
        out.update((group,) if isinstance(group, str) else group)
    return frozenset(out)


CATEGORIES: dict[str, Category] = {
    c.name: c
    for c in (
        Category(
            "educational_content", "Teaching material", 100 * MB,
            _types(PDF, DOC, DOCX, TXT, HTML, OFFICE, IMAGES),
            student_facing=True,
            extra_note="seed list plus slides, spreadsheets, OpenDocument and images",
        ),
        Category(
            "student_submission", "Student work", 50 * MB,
            _types(PDF, DOC, DOCX, TXT, JPEG, PNG, ODT),
            student_facing=True,
            extra_note="seed list plus OpenDocument text",
        ),
        Category(
            "assessment", "Test or quiz", 25 * MB,
            _types(PDF, DOC, DOCX, ODT, TXT, CSV, XLS, XLSX, ODS, JPEG, PNG),
            student_facing=True,
            extra_note="not in the seed: documents, quiz spreadsheets, scanned pages",
        ),
        Category(
            "media_resource", "Photo, video or audio", 500 * MB,
            _types(JPEG, PNG, WEBP, MP4, WEBM, MP3, WAV, GIF, MOV, OGG_AUDIO, M4A),
            student_facing=True,
            extra_note="seed list plus GIF, phone videos (QuickTime), Ogg and M4A audio",
        ),
        Category(
            "avatar", "Profile picture", 10 * MB,
            _types(JPEG, PNG, WEBP),
            student_facing=True,
        ),
        Category(
            "administrative", "School office document", 100 * MB,
            _types(PDF, TXT, CSV, OFFICE, JPEG, PNG),
            student_facing=False,
            extra_note="not in the seed: office documents, PDF, CSV, scans",
        ),
        Category(
            "temporary", "Temporary (scratch)", 1 * GB,
            None,
            student_facing=False,
            scripts_allowed=True,
            extra_note="not in the seed: any type that is not executable",
        ),
        Category(
            "report", "Report", 50 * MB,
            _types(PDF, DOC, DOCX, ODT, XLS, XLSX, ODS, CSV, TXT, HTML),
            student_facing=False,
            extra_note="not in the seed: documents, spreadsheets, CSV, HTML exports",
        ),
    )
}

DEFAULT_CATEGORY = "educational_content"


class UnknownCategoryError(ValueError):
    pass


def categories_taking(mime: str, size: int | None = None) -> list[Category]:
    """The categories that list this type (and take this size): where a refused file can
    go instead. The scratch area, which takes anything, is never the advice."""
    return [c for c in CATEGORIES.values()
            if c.mime_types is not None and c.allows(mime)
            and (size is None or size <= c.max_size)]


def get_category(name: str) -> Category:
    try:
        return CATEGORIES[name]
    except KeyError:
        known = ", ".join(CATEGORIES)
        raise UnknownCategoryError(f"unknown category {name!r} (known: {known})") from None
