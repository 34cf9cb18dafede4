"""Audio/video container sniffing from the first bytes only.

libmagic recognises most containers, but a phone's MOV, an M4A or a WebM can come back as
``application/octet-stream`` or a generic type; the container's own signature (ISO-BMFF
``ftyp`` brand, the EBML DocType, RIFF/WAVE, MPEG audio frame headers, ``OggS``) decides.
Only the head is looked at, so a 4 GB video costs one 64 KB read.
"""

from __future__ import annotations

from toolbox_uploader.core.validation.report import Findings

_QUICKTIME_BRANDS = {b"qt  "}
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A "}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1", b"heim", b"heis", b"avif"}

# MPEG-1/2/2.5 Layer I-III: version bits -> index, bitrate table presence; we only need validity.
_MP3_BITRATE_BAD = {0b0000, 0b1111}
_MP3_RATE_BAD = 0b11


def _mp3_frame_ok(header: bytes) -> bool:
    if len(header) < 4 or header[0] != 0xFF or (header[1] & 0xE0) != 0xE0:
        return False
    version = (header[1] >> 3) & 0b11
    layer = (header[1] >> 1) & 0b11
    bitrate = header[2] >> 4
    rate = (header[2] >> 2) & 0b11
    return (version != 0b01 and layer != 0b00 and bitrate not in _MP3_BITRATE_BAD
            and rate != _MP3_RATE_BAD)


def sniff_container(head: bytes) -> str | None:
    """The media type of an audio/video container, or ``None`` when the head is not one."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return None  # still images (HEIC/AVIF) are handled as images
        if brand in _QUICKTIME_BRANDS:
            return "video/quicktime"
        if brand in _AUDIO_BRANDS:
            return "audio/mp4"
        return "video/mp4"
    if len(head) >= 12 and head[4:8] in {b"moov", b"mdat", b"wide", b"free"}:
        return "video/quicktime"  # old QuickTime files start without ftyp
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"ID3") and len(head) >= 10:
        return "audio/mp3"
    if _mp3_frame_ok(head[:4]):
        return "audio/mp3"
    return None


def check_media(head: bytes, mime: str, declared: str | None, findings: Findings) -> str:
    """Refine an audio/video type from the container header.

    A file whose name says audio/video but whose head is no container we know is refused
    with a clear reason instead of a bare "application/octet-stream is not allowed"."""
    container = sniff_container(head)
    if container is not None:
        return container
    claims_media = declared is not None and declared.startswith(("audio/", "video/"))
    if mime == "application/octet-stream" and claims_media:
        findings.reject(
            "media_unrecognized",
            "The name says audio or video but the file does not start like any known "
            "container (MP4, MOV, WebM/Matroska, MP3, WAV, Ogg); it may be damaged.",
        )
    return mime
