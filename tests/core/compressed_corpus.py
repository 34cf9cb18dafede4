"""gzip/bzip2/xz files and tar archives built with the standard library, hostile and not,
for the validation tests (``tests/core/validation``) and the CLI tests."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import tarfile
import zipfile
from pathlib import Path

MIB = 1024 * 1024
_ZEROS = bytes(MIB)


def compress_zeros(folder: Path, name: str, mebibytes: int = 16) -> Path:
    """``mebibytes`` of zeros as gzip, bzip2 or xz (from the name): a few KB on disk."""
    path = folder / name
    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}[path.suffix]
    with opener(path, "wb") as out:
        for _ in range(mebibytes):
            out.write(_ZEROS)
    return path


def compress_text(folder: Path, name: str) -> Path:
    """About 500 KB of register lines as gzip, bzip2 or xz: no bomb, several blocks."""
    path = folder / name
    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}[path.suffix]
    with opener(path, "wb") as out:
        for i in range(20_000):
            out.write(b"line %d of the register, %s\n" % (i, os.urandom(4).hex().encode()))
    return path


def member(name: str, data: bytes = b"", **fields: object) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in fields.items():
        setattr(info, key, value)
    return info, data


def tar_bytes(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def make_tar(folder: Path, name: str, *members: tuple[tarfile.TarInfo, bytes]) -> Path:
    """A tar, compressed as its name says (.tar, .tar.gz/.tgz, .tar.bz2, .tar.xz)."""
    data = tar_bytes(*members)
    if name.endswith((".gz", ".tgz")):
        data = gzip.compress(data, compresslevel=1)
    elif name.endswith(".bz2"):
        data = bz2.compress(data)
    elif name.endswith(".xz"):
        data = lzma.compress(data)
    path = folder / name
    path.write_bytes(data)
    return path


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def make_photos_tar_gz(folder: Path, mebibytes: int = 20, name: str = "class trip.tar.gz",
                       extra: tuple[tarfile.TarInfo, bytes] | None = None) -> Path:
    """A legitimate archive: random data (as photos are) in 1 MiB members, and ``extra``
    after them."""
    members = [member(f"trip/photo{i:02d}.jpg", os.urandom(MIB)) for i in range(mebibytes)]
    return make_tar(folder, name, *members, *([extra] if extra else []))
