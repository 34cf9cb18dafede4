"""Image checks with Pillow: it opens and verifies, it is not a decompression bomb, it is not
absurdly large, it is a format a browser shows, and what its metadata gives away.

Pillow's own pixel limit (``Image.MAX_IMAGE_PIXELS``) is the bomb detector: its warning is
turned into an error here, so a PNG that claims 1.6 gigapixels is refused from its header
alone, before any pixel is decoded.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from toolbox_uploader.core.source_files import open_source
from toolbox_uploader.core.validation.report import Findings

MAX_EDGE = 10_000
#: Pillow format names we accept (MPO is how Pillow names many phone JPEGs).
WEB_FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "GIF"}
HEIF_FORMATS = {"HEIF", "AVIF"}
COMMON_TYPES = {"image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp", "image/tiff",
                "image/heic", "image/heif", "image/avif"}
HEIF_TYPES = {"image/heic", "image/heif", "image/heic-sequence", "image/heif-sequence"}
#: A JPEG's EXIF segment cannot exceed 64 KiB; more (or one huge field) is not a camera's doing.
MAX_EXIF_BYTES = 64 * 1024
MAX_EXIF_FIELD_BYTES = 32 * 1024
GPS_IFD = 0x8825
EXIF_IFD = 0x8769
_TAIL_BYTES = 4096


def heif_available() -> bool:
    """Register pillow-heif's opener once; ``False`` when the package is missing."""
    try:
        import pillow_heif
    except ImportError:
        return False
    if not getattr(heif_available, "_registered", False):
        pillow_heif.register_heif_opener()
        heif_available._registered = True  # type: ignore[attr-defined]
    return True


def has_location(exif: Image.Exif) -> bool:
    try:
        return bool(exif.get_ifd(GPS_IFD))
    except (KeyError, ValueError, TypeError, OSError):
        return GPS_IFD in exif


def _oversized_exif(image: Image.Image, exif: Image.Exif) -> bool:
    raw = image.info.get("exif")
    if isinstance(raw, bytes) and len(raw) > MAX_EXIF_BYTES:
        return True
    try:
        values = list(exif.values()) + list(exif.get_ifd(EXIF_IFD).values())
    except (KeyError, ValueError, TypeError, OSError):
        values = list(exif.values())
    return any(
        isinstance(v, bytes | str) and len(v) > MAX_EXIF_FIELD_BYTES for v in values
    )


def _ends_with(handle: BinaryIO, marker: bytes) -> bool:
    """Whether the file's last bytes, less the zero/space padding some writers add, are
    ``marker``: the cheap proof that a JPEG or GIF was written to its end."""
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(max(0, size - _TAIL_BYTES))
    return handle.read().rstrip(b"\0 \r\n").endswith(marker)


def _check_complete(handle: BinaryIO, image: Image.Image) -> None:
    """Raise when the picture data stops short (a half-copied photo shows a grey band).

    ``verify()`` decodes nothing for JPEG and GIF, unlike PNG (CRCs) and WebP, so a cut
    JPEG or GIF passed. A file that ends with its end marker (JPEG ``FFD9``, which cannot
    occur inside the compressed data, or GIF's ``;``) is complete, which costs one read of
    the tail; only the others are decoded to find out, a JPEG at 1/8 scale (libjpeg still
    reads every coefficient, so a cut is found at an eighth of the memory)."""
    if image.format in {"JPEG", "MPO"}:
        if _ends_with(handle, b"\xff\xd9"):
            return
        width, height = image.size
        image.draft(image.mode, (max(1, width // 8), max(1, height // 8)))
        image.load()
    elif image.format == "GIF" and not _ends_with(handle, b";"):
        for frame in range(getattr(image, "n_frames", 1)):
            image.seek(frame)
            image.load()


def check_image(path: Path, mime: str, findings: Findings) -> None:
    if mime in HEIF_TYPES and not heif_available():
        findings.reject(
            "heic_unsupported",
            "This is an iPhone HEIC photo and HEIC support (pillow-heif) is not installed; "
            "export it as JPEG or install pillow-heif.",
        )
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with open_source(path) as handle, Image.open(handle) as image:  # the header only
                image_format = image.format or ""
                width, height = image.size
                if width > MAX_EDGE or height > MAX_EDGE:
                    findings.reject(
                        "image_too_large",
                        f"The image is {width}×{height} pixels; the limit is "
                        f"{MAX_EDGE}×{MAX_EDGE}.",
                    )
                    return
                image.verify()  # must come straight after open, and ends the object
            with open_source(path) as handle, Image.open(handle) as image:
                exif = image.getexif()
                location = has_location(exif)
                oversized = _oversized_exif(image, exif)
                _check_complete(handle, image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        megapixels = Image.MAX_IMAGE_PIXELS / 1e6 if Image.MAX_IMAGE_PIXELS else 0
        findings.reject(
            "image_bomb",
            f"The image has more than {megapixels:.0f} megapixels, more than is checked safely "
            "(a picture that size may be a decompression bomb). Make it smaller and add it "
            "again.",
            stop=True,
        )
        return
    except UnidentifiedImageError as exc:
        if mime in COMMON_TYPES:
            findings.reject("image_damaged", f"The image cannot be read: it looks damaged ({exc}).")
        # else libmagic guessed a rare image type (TGA, say) from a few bytes: not an image
        # after all, so the category's type list decides
        return
    except Exception as exc:  # Pillow's decoders raise whatever they run into
        # Damaged or hostile files end in OSError, SyntaxError, ValueError or EOFError, but
        # also in IndexError, KeyError, struct.error... (a PNG whose IEND comes before IDAT).
        findings.reject("image_damaged", f"The image cannot be read: it looks damaged ({exc}).")
        return
    if image_format in HEIF_FORMATS:
        findings.warn(
            "heic_converted",
            "This is an iPhone HEIC photo; it is converted to JPEG when optimized.",
        )
    elif image_format not in WEB_FORMATS:
        findings.reject(
            "image_format_unsupported",
            f"{image_format or 'This'} images are not accepted; use JPEG, PNG, WebP or GIF.",
        )
    if location:
        findings.warn(
            "location_data",
            "The photo records where it was taken (GPS); the copy sent leaves it out "
            "unless location removal is turned off.",
        )
    if oversized:
        findings.warn(
            "exif_oversized",
            "The photo carries an unusually large metadata block; optimizing removes it.",
        )
