"""Image optimization: a smaller, upright, privacy-safe copy in the cache; originals untouched.

What happens to a photo (the ``actions`` of the result say it in words):

* HEIC is always converted to JPEG (browsers cannot show it); animated images are left as is.
* Small images (under 1 MB and within the maximum edge, as in the seed) are left alone.
* Otherwise: EXIF orientation applied, downscaled to ``max_edge``, re-encoded (JPEG/WebP with
  the seed's quality ladder 85/80/75 by source size; PNG/GIF losslessly with ``optimize``),
  every metadata block dropped except the ICC colour profile. Transparency stays; only a
  JPEG output is flattened, onto white. For JPEG, Pillow's ``draft()`` lets libjpeg decode
  at 1/2, 1/4 or 1/8 scale when the target is that much smaller, which is most of the cost.
  The downscale uses Pillow's bilinear filter, which is antialiased (its support widens with
  the reduction): for a 12 MP photo to 2560 px it looks the same as bicubic and costs 40%
  less, the difference between 4 and 6 photos a second on two cores.
* The re-encoded copy is used only if it is at most 90% of the original's size. If not, and
  location stripping is on, the original is stripped *losslessly*: we copy its container
  and drop metadata segments without touching the compressed pixels (JPEG APPn/COM markers,
  PNG ancillary text/EXIF chunks, WebP EXIF/XMP chunks). A JPEG that relies on its EXIF
  Orientation keeps a minimal EXIF block holding only that tag, so it still shows upright.
  Pillow cannot do this (it only re-encodes), and the segment formats are short and stable,
  hence our own few lines instead of a tool such as exiftool.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import tempfile
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from toolbox_uploader.core.source_files import open_source
from toolbox_uploader.core.validation.images import GPS_IFD, heif_available

SMALL_BYTES = 1024 * 1024  # seed: images under 1 MB are not worth re-encoding
KEEP_RATIO = 0.9
_ORIENTATION = 0x0112
#: EXIF Orientation -> the transpose that makes the picture upright (as ImageOps.exif_transpose).
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class OptimizeSettings:
    max_edge: int = 2560
    #: ``None`` follows the seed's ladder: 85, or 80 above 2 MB, or 75 above 5 MB.
    quality: int | None = None
    strip_location: bool = True
    #: False: no resizing or re-encoding, only the lossless removal of location and metadata
    #: (``strip_location``); HEIC photos with a location are still converted, as the only
    #: way to send them without it.
    shrink: bool = True


@dataclass(frozen=True)
class OptimizationResult:
    source: Path
    #: The file to upload: the optimized or stripped copy, or ``source`` itself.
    output: Path
    original_size: int
    new_size: int
    used_original: bool
    actions: tuple[str, ...]

    @property
    def saved(self) -> int:
        return self.original_size - self.new_size

    def to_json(self) -> dict[str, object]:
        return {
            "output": str(self.output),
            "original_size": self.original_size,
            "new_size": self.new_size,
            "used_original": self.used_original,
            "actions": list(self.actions),
        }


class OptimizeError(Exception):
    """The image could not be optimized; the caller uploads the original instead."""


def quality_for(size: int, settings: OptimizeSettings) -> int:
    if settings.quality is not None:
        return settings.quality
    if size > 5 * 1024 * 1024:
        return 75
    if size > 2 * 1024 * 1024:
        return 80
    return 85


def output_path(source: Path, out_dir: Path, suffix: str, settings: OptimizeSettings) -> Path:
    """A cache name unique to this source version and these settings."""
    info = source.stat()
    key = f"{source.resolve()}|{info.st_size}|{info.st_mtime_ns}|{settings}"
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return out_dir / f"{digest}-{source.stem[:80]}{suffix}"


def optimize_image(path: Path, out_dir: Path,
                   settings: OptimizeSettings = OptimizeSettings()) -> OptimizationResult:
    """Optimize one image into ``out_dir`` (callers pass ``paths.optimized_cache_dir()``).

    Raises ``OptimizeError`` for files Pillow cannot handle."""
    path = Path(path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    size = path.stat().st_size
    if path.suffix.lower() in {".heic", ".heif"} or _is_heif(path):
        heif_available()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with open_source(path) as handle, Image.open(handle) as image:
                return _optimize(path, image, size, out_dir, settings)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise OptimizeError(f"cannot optimize {path.name}: {exc}") from exc


def _is_heif(path: Path) -> bool:
    with open_source(path) as handle:
        head = handle.read(12)
    return head[4:8] == b"ftyp" and head[8:12] in {b"heic", b"heix", b"mif1", b"msf1", b"hevc"}


def _unchanged(path: Path, size: int, *actions: str) -> OptimizationResult:
    return OptimizationResult(path, path, size, size, True, actions)


def _optimize(path: Path, image: Image.Image, size: int, out_dir: Path,
              settings: OptimizeSettings) -> OptimizationResult:
    fmt = (image.format or "").upper()
    if fmt == "MPO":
        fmt = "JPEG"
    if getattr(image, "n_frames", 1) > 1 and fmt != "JPEG":
        return _unchanged(path, size, "animated image left as is")
    heif = fmt in {"HEIF", "AVIF"}
    exif = image.getexif()
    has_gps = _has_gps(exif)
    strippable = _has_strippable_metadata(path, fmt)
    within_edge = max(image.size) <= settings.max_edge
    if not settings.shrink and not (heif and has_gps and settings.strip_location):
        if settings.strip_location and strippable:
            return _stripped_copy(path, size, fmt, exif, out_dir, settings, has_gps,
                                  "optimization off: not re-encoded")
        return _unchanged(path, size, "optimization off: left as is")
    if not heif and size < SMALL_BYTES and within_edge:
        if settings.strip_location and strippable:
            return _stripped_copy(path, size, fmt, exif, out_dir, settings, has_gps,
                                  "already small: not re-encoded")
        return _unchanged(path, size, "already small: left as is")

    actions: list[str] = []
    out_format = "JPEG" if heif else fmt if fmt in {"JPEG", "PNG", "WEBP", "GIF"} else "PNG"
    if heif:
        actions.append("converted from HEIC to JPEG")
    if fmt == "JPEG":
        target = _target_size(image.size, settings.max_edge)
        image.draft(image.mode if image.mode in {"RGB", "L", "CMYK"} else "RGB", target)
    # Resize first, rotate after: rotating 12 MP costs three times what 5 MP does.
    picture = image
    if image.mode in {"P", "1"} and max(image.size) > settings.max_edge:
        # Pillow resizes palette images by nearest neighbour; go to full colour first
        picture = image.convert("RGBA" if _has_alpha(image) else "RGB")
    if max(image.size) > settings.max_edge:
        target = _target_size(image.size, settings.max_edge)
        picture = picture.resize(target, Image.Resampling.BILINEAR, reducing_gap=3.0)
    orientation = exif.get(_ORIENTATION, 1)
    upright = picture.transpose(_TRANSPOSE[orientation]) if orientation in _TRANSPOSE \
        else picture.copy()
    if orientation in _TRANSPOSE:
        actions.append("rotated upright")
    if picture is not image:
        actions.append(f"resized to {upright.width}×{upright.height} px")
    options: dict[str, object] = {}
    icc = image.info.get("icc_profile")
    if icc:
        options["icc_profile"] = icc
    if not settings.strip_location:
        kept = image.getexif()
        kept.pop(_ORIENTATION, None)
        options["exif"] = kept.tobytes()
    quality = quality_for(size, settings)
    if out_format == "JPEG":
        if _has_alpha(upright):
            upright = _flatten_on_white(upright)
            actions.append("transparent areas filled with white")
        elif upright.mode not in {"RGB", "L", "CMYK"}:
            upright = upright.convert("RGB")
        options.update(quality=quality, optimize=True)
        encoded = f"re-encoded as JPEG quality {quality}"
    elif out_format == "WEBP":
        options.update(quality=quality, method=4)
        encoded = f"re-encoded as WebP quality {quality}"
    else:
        options.update(_lossless_effort(upright))
        if "transparency" in image.info and upright.mode in {"P", "L", "RGB"}:
            options["transparency"] = image.info["transparency"]
        encoded = f"{out_format} optimized losslessly"
    suffix = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif"}[out_format]
    output = output_path(path, out_dir, suffix, settings)
    _atomic_write(output, lambda handle: upright.save(handle, out_format, **options))
    new_size = output.stat().st_size
    privacy = []
    if settings.strip_location:
        privacy = ["location removed"] if has_gps else []
        privacy += ["metadata removed"] if strippable else []
    if heif or new_size <= KEEP_RATIO * size:
        return OptimizationResult(path, output, size, new_size, False,
                                  (*actions, encoded, *privacy))
    output.unlink(missing_ok=True)
    if settings.strip_location and strippable:
        return _stripped_copy(path, size, fmt, exif, out_dir, settings, has_gps,
                              "kept original pixels: optimizing saved less than 10%")
    return _unchanged(path, size, "kept original: optimizing saved less than 10%")


#: Raw bytes up to which PNG/GIF get zlib's best effort (``optimize``): on photo-like data
#: level 9 costs ten times level 6 for 1-5% (a 2560 px RGBA photo: 16 s against 1.5 s).
BEST_EFFORT_RAW_BYTES = 2 * 1024 * 1024


def _lossless_effort(image: Image.Image) -> dict[str, object]:
    """``optimize`` for palette and small images (where it also trims the palette and costs
    little); zlib's default level for big ones, so that a folder of PNG photos does not
    keep both cores busy for minutes."""
    raw = image.width * image.height * len(image.getbands())
    if image.mode in {"P", "1"} or raw <= BEST_EFFORT_RAW_BYTES:
        return {"optimize": True}
    return {"compress_level": 6}


def _target_size(size: tuple[int, int], max_edge: int) -> tuple[int, int]:
    width, height = size
    scale = min(1.0, max_edge / max(width, height))
    return max(1, int(width * scale)), max(1, int(height * scale))


def _has_gps(exif: Image.Exif) -> bool:
    try:
        return bool(exif.get_ifd(GPS_IFD))
    except (KeyError, ValueError, TypeError, OSError):
        return GPS_IFD in exif


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in {"RGBA", "LA", "PA"} or (
        image.mode == "P" and "transparency" in image.info
    )


def _flatten_on_white(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _atomic_write(target: Path, write: object) -> None:
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)  # type: ignore[operator]
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------- lossless metadata strip

_JPEG_KEEP_APP = {0xE0, 0xEE}  # JFIF, Adobe (colour transform); APP2 kept only for ICC
_PNG_DROP = {b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"}
_WEBP_DROP = {b"EXIF", b"XMP "}


def _has_strippable_metadata(path: Path, fmt: str) -> bool:
    with open_source(path) as src:
        if fmt == "JPEG":
            return any(not keep for _, _, keep in _jpeg_segments(src))
        if fmt == "PNG":
            return any(kind in _PNG_DROP for kind, _, _ in _png_chunks(src))
        if fmt == "WEBP":
            return any(kind in _WEBP_DROP for kind, _, _ in _webp_chunks(src))
    return False


def _stripped_copy(path: Path, size: int, fmt: str, exif: Image.Exif, out_dir: Path,
                   settings: OptimizeSettings, has_gps: bool, why: str) -> OptimizationResult:
    output = output_path(path, out_dir, path.suffix.lower() or ".img", settings)
    orientation = int(exif.get(_ORIENTATION, 1) or 1)
    with open_source(path) as src:
        if fmt == "JPEG":
            _atomic_write(output, lambda out: _strip_jpeg(src, out, orientation))
        elif fmt == "PNG":
            _atomic_write(output, lambda out: _strip_png(src, out, orientation))
        else:
            _atomic_write(output, lambda out: _strip_webp(src, out, orientation))
    actions = [why, "location removed"] if has_gps else [why]
    actions.append("metadata removed")
    return OptimizationResult(path, output, size, output.stat().st_size, True, tuple(actions))


def _jpeg_segments(src: BinaryIO) -> list[tuple[int, int, bool]]:
    """(marker, offset, keep) of each segment before the image data."""
    if src.read(2) != b"\xff\xd8":
        raise OSError("not a JPEG file")
    segments: list[tuple[int, int, bool]] = []
    while True:
        offset = src.tell()
        byte = src.read(1)
        while byte == b"\xff":
            byte = src.read(1)
        if not byte:
            raise OSError("JPEG ends before its image data")
        marker = byte[0]
        if marker == 0xDA:  # start of scan: pixels follow
            segments.append((marker, offset, True))
            return segments
        (length,) = struct.unpack(">H", src.read(2))
        payload_start = src.tell()
        keep = True
        if 0xE0 <= marker <= 0xEF and marker not in _JPEG_KEEP_APP:
            keep = marker == 0xE2 and src.read(12) == b"ICC_PROFILE\0"
        elif marker == 0xFE:
            keep = False
        segments.append((marker, offset, keep))
        src.seek(payload_start + length - 2)


def _orientation_exif(orientation: int) -> bytes:
    """A TIFF block holding only the Orientation tag (without JPEG's ``Exif\\0\\0``), so that
    a picture stored sideways still shows upright once its metadata is gone; empty when
    there is nothing to keep."""
    if orientation not in _TRANSPOSE:
        return b""
    minimal = Image.Exif()
    minimal[_ORIENTATION] = orientation
    return minimal.tobytes().removeprefix(b"Exif\0\0")


def _strip_jpeg(src: BinaryIO, out: BinaryIO, orientation: int) -> None:
    src.seek(0)
    segments = _jpeg_segments(src)
    out.write(b"\xff\xd8")
    if kept := _orientation_exif(orientation):
        data = b"Exif\0\0" + kept
        out.write(b"\xff\xe1" + struct.pack(">H", len(data) + 2) + data)
    for index, (_, offset, keep) in enumerate(segments):
        if index == len(segments) - 1:  # SOS: copy everything from here verbatim
            src.seek(offset)
            shutil.copyfileobj(src, out, 1024 * 1024)
            return
        if keep:
            src.seek(offset)
            out.write(src.read(segments[index + 1][1] - offset))


def _png_chunks(src: BinaryIO) -> list[tuple[bytes, int, int]]:
    """(type, offset, total length) of every chunk."""
    if src.read(8) != b"\x89PNG\r\n\x1a\n":
        raise OSError("not a PNG file")
    chunks: list[tuple[bytes, int, int]] = []
    while header := src.read(8):
        if len(header) < 8:
            raise OSError("PNG ends inside a chunk header")
        length, kind = struct.unpack(">I4s", header)
        offset = src.tell() - 8
        chunks.append((kind, offset, length + 12))
        src.seek(offset + length + 12)
        if kind == b"IEND":
            break
    return chunks


def _strip_png(src: BinaryIO, out: BinaryIO, orientation: int) -> None:
    src.seek(0)
    chunks = _png_chunks(src)
    out.write(b"\x89PNG\r\n\x1a\n")
    for kind, offset, total in chunks:
        if kind not in _PNG_DROP:
            src.seek(offset)
            _copy_exact(src, out, total)
        if kind == b"IHDR" and (kept := _orientation_exif(orientation)):
            # eXIf must come before the image data; right after the header is always so
            crc = zlib.crc32(b"eXIf" + kept) & 0xFFFFFFFF
            out.write(struct.pack(">I", len(kept)) + b"eXIf" + kept + struct.pack(">I", crc))


def _webp_chunks(src: BinaryIO) -> list[tuple[bytes, int, int]]:
    head = src.read(12)
    if head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        raise OSError("not a WebP file")
    (riff_size,) = struct.unpack("<I", head[4:8])
    end = 8 + riff_size
    chunks: list[tuple[bytes, int, int]] = []
    while src.tell() < end:
        header = src.read(8)
        if len(header) < 8:
            break
        kind, length = struct.unpack("<4sI", header)
        offset = src.tell() - 8
        total = 8 + length + (length & 1)
        chunks.append((kind, offset, total))
        src.seek(offset + total)
    return chunks


def _strip_webp(src: BinaryIO, out: BinaryIO, orientation: int) -> None:
    src.seek(0)
    chunks = [c for c in _webp_chunks(src) if c[0] not in _WEBP_DROP]
    # A WebP can only carry EXIF with a VP8X header, which any WebP with EXIF has.
    kept = _orientation_exif(orientation) if any(c[0] == b"VP8X" for c in chunks) else b""
    exif = b"EXIF" + struct.pack("<I", len(kept)) + kept + b"\0" * (len(kept) & 1) if kept \
        else b""
    body = sum(total for _, _, total in chunks) + len(exif)
    out.write(b"RIFF" + struct.pack("<I", 4 + body) + b"WEBP")
    for kind, offset, total in chunks:
        src.seek(offset)
        if kind == b"VP8X":
            chunk = bytearray(src.read(total))
            chunk[8] &= ~0x0C & 0xFF  # clear the EXIF and XMP flags
            chunk[8] |= 0x08 if exif else 0  # EXIF again when it holds the orientation
            out.write(chunk)
        else:
            _copy_exact(src, out, total)
    out.write(exif)  # EXIF follows the image data


def _copy_exact(src: BinaryIO, out: BinaryIO, count: int) -> None:
    while count > 0:
        block = src.read(min(count, 1024 * 1024))
        if not block:
            raise OSError("file ends early")
        out.write(block)
        count -= len(block)
