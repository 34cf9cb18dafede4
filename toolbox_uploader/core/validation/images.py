"""Image checks with Pillow: it opens and verifies, it is not a decompression bomb, it is not
absurdly large, it is a format a browser shows, and what its metadata gives away.

Pillow's own pixel limit (``Image.MAX_IMAGE_PIXELS``) is the bomb detector: its warning is
turned into an error here, so a PNG that claims 1.6 gigapixels is refused from its header
alone, before any pixel is decoded.
"""

from __future__ import annotations

import warnings
from pathlib import Path

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
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        findings.reject(
            "image_bomb",
            "The image claims far more pixels than any photo has (a decompression bomb).",
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
