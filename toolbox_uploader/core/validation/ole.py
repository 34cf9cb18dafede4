"""Macros in the old binary Office formats (.doc, .xls, .ppt): OLE2 / Compound File storages.

The zip-based formats give their VBA project away in the package (``vbaProject.bin``); the
old formats, the ones most macro viruses travel in, keep it as a storage inside the compound
file: ``Macros/VBA/_VBA_PROJECT`` in Word, ``_VBA_PROJECT_CUR/VBA/_VBA_PROJECT`` in Excel.
Reading the compound file's directory (its names only, never a stream) is enough to see it,
and costs a few sector reads. The reader is ours because the standard library has none and
the only needed part is the directory walk; every loop is bounded by the file's own size.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO

from toolbox_uploader.core.source_files import open_source
from toolbox_uploader.core.validation.report import Findings

SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: Directory entries naming a VBA project (case-folded), whatever the application.
VBA_NAMES = frozenset({"_vba_project", "_vba_project_cur"})
_HEADER_DIFAT_ENTRIES = 109
_MAX_SECTOR_ID = 0xFFFFFFFA  # above this: free, end of chain, FAT or DIFAT markers
_DIRECTORY_ENTRY = 128
_MAX_DIRECTORY_ENTRIES = 100_000


class OleError(ValueError):
    """The compound file's structure cannot be followed (damaged or hostile)."""


def directory_names(path: Path) -> set[str]:
    """The case-folded names of every storage and stream in the compound file."""
    with open_source(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        return _names(handle, size)


def check_macros(path: Path, findings: Findings, *, student_facing: bool) -> None:
    """Refuse (student-facing categories) or note a VBA project in an old Office file.

    A directory we cannot follow is refused where macros are refused: what could not be
    checked is not let through."""
    try:
        names = directory_names(path)
    except OleError as exc:
        if student_facing:
            findings.reject(
                "document_damaged",
                f"The Office document is damaged and cannot be checked for macros ({exc}).",
            )
        return
    if names & VBA_NAMES:
        report_macros(findings, student_facing=student_facing)


def report_macros(findings: Findings, *, student_facing: bool) -> None:
    """The one wording for macro documents, zip-based or not."""
    if student_facing:
        findings.reject(
            "macro_document",
            "The document contains macros (a VBA project), which can run code on students'"
            " computers; save it as .docx/.xlsx/.pptx without macros.",
        )
    else:
        findings.warn("macro_document", "The document contains macros (a VBA project).")


def _names(handle: BinaryIO, size: int) -> set[str]:
    header = handle.read(512)
    if len(header) < 512 or not header.startswith(SIGNATURE):
        raise OleError("not a compound file")
    shift = struct.unpack_from("<H", header, 30)[0]
    if shift not in (9, 12):
        raise OleError(f"sector size 2**{shift} is not a compound file's")
    sector = 1 << shift
    max_sectors = max(1, size // sector)
    fat_count, first_dir = struct.unpack_from("<II", header, 44)
    first_difat, difat_count = struct.unpack_from("<II", header, 68)
    if fat_count > max_sectors:
        raise OleError("the allocation table is larger than the file")
    difat = list(struct.unpack_from(f"<{_HEADER_DIFAT_ENTRIES}I", header, 76))
    next_difat, seen = first_difat, 0
    while next_difat <= _MAX_SECTOR_ID and len(difat) < fat_count:
        seen += 1
        if seen > difat_count or seen > max_sectors:
            raise OleError("the DIFAT chain loops")
        block = _sector(handle, next_difat, sector, size)
        entries = struct.unpack(f"<{sector // 4}I", block)
        difat.extend(entries[:-1])
        next_difat = entries[-1]
    fat: list[int] = []
    for sector_id in difat[:fat_count]:
        fat.extend(struct.unpack(f"<{sector // 4}I", _sector(handle, sector_id, sector, size)))
    names: set[str] = set()
    current, visited = first_dir, 0
    while current <= _MAX_SECTOR_ID:
        visited += 1
        if visited > max_sectors or current >= len(fat):
            raise OleError("the directory chain is broken or loops")
        block = _sector(handle, current, sector, size)
        for offset in range(0, sector, _DIRECTORY_ENTRY):
            length = struct.unpack_from("<H", block, offset + 64)[0]
            if block[offset + 66] == 0 or not 2 <= length <= 64:
                continue  # an unused entry
            raw = block[offset : offset + length - 2]
            names.add(raw.decode("utf-16-le", "replace").casefold())
        if len(names) > _MAX_DIRECTORY_ENTRIES:
            raise OleError("the directory has too many entries")
        current = fat[current]
    return names


def _sector(handle: BinaryIO, sector_id: int, sector: int, size: int) -> bytes:
    offset = (sector_id + 1) * sector
    if sector_id > _MAX_SECTOR_ID or offset >= size:
        raise OleError(f"sector {sector_id} lies outside the file")
    handle.seek(offset)
    # Some writers cut the last sector short; Office reads it as if zero-padded.
    return handle.read(sector).ljust(sector, b"\0")
