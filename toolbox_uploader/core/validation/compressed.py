"""gzip, bzip2 and xz files and tar archives (.tar, .tar.gz/.tgz, .tar.bz2, .tar.xz).

The same limits as zip (``archives.py``), the same finding codes. A compressed stream has no
directory, so the only way to know what it expands to is to decompress it: it is read once,
forward only, in pieces of 1 MiB, each counted as it comes out, and the check stops as soon as
the verdict is known (more than 100 times the file's size and at least 1 MiB: a bomb; more than
2 GB: too large). tar members are read with ``tarfile`` in stream mode on top of that count;
their data is skipped, never extracted or held. Nothing is written to disk, except a zip
found inside a tar: a zip is read from its end, so it is spooled (8 MB in memory, then an
unnamed temporary file) and checked as ``archives.py`` checks a nested zip.

Cost (one core of the development machine, decompressed MB/s): gzip 400 (text) to 1200
(photos, already compressed), xz 110-230 (text) to 1150, bzip2 19 (photos) to 43 (text);
zeros 400-480 for all three; ``tarfile`` adds about 60 µs per member. Measured through
``validate_file``: a 1 GB .tar.gz of photos 1.2-1.5 s; a 400 MB .tar.gz of text that
expands to 2 GB 4.5-5 s, the most a gzip file can cost (beyond 2 GB it is refused). The
slow formats get a budget (``CHECK_BUDGET``) so that no file costs more than about 10 s:
xz 1 GiB of output (9 s for text), bzip2 256 MiB (10 s for photos); past it the file is
accepted with the warning ``archive_not_fully_checked`` rather than refused: a large
archive of photos is ordinary, and whoever unpacks it is told what was not checked. The
budgets are bytes, not seconds, so the app and the server reach the same verdict on the
same file. A bomb is refused long before any budget when it is small (2 GB of zeros is
1.5 KB of bzip2 or 300 KB of xz): the ratio check stops at 100 times the file's size.
Other types pay nothing: this runs only for the types in ``COMPRESSED_TYPES``.

Levels: a tar and the compression around it (.tar.gz) are one archive, as a zip and its
deflate are; a tar or zip inside it, or a stream compressed twice (.gz.gz), is one level
more (``MAX_DEPTH``, as for zip). A compressed member that is not a tar (``notes.txt.gz``
in a tar) is not opened, as ``archives.py`` does not open one in a zip; a zip inside a .gz
is not opened either (it would need the whole stream spooled), and a warning says so.

tar members refused: names with ``..`` or absolute; symlinks and hardlinks whose target,
followed through the archive's own links, is outside the archive's folder, and members
written through such a link; device and pipe members (``archive_special_files``: nothing a
teacher shares needs one, and unpacked as root they are raw access to a disk, while a pipe
makes whatever opens it hang). Data after the end of a tar is refused as damaged: some
programs read on past the end and would unpack what this check did not see.

rar and 7z are not opened: the standard library reads neither and no dependency is added.
They stay unopened in the scratch area (the only category that takes them), like zstd.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from toolbox_uploader.core.source_files import open_source
from toolbox_uploader.core.validation import archives, tar_members
from toolbox_uploader.core.validation.archives import (
    MAX_DEPTH,
    MAX_ENTRIES,
    MAX_EXPANDED_BYTES,
    MAX_RATIO,
    RATIO_MIN_BYTES,
)
from toolbox_uploader.core.validation.names import effective_extension, printable_name
from toolbox_uploader.core.validation.report import Findings

COMPRESSED_TYPES = frozenset(
    {"application/gzip", "application/x-gzip", "application/x-bzip2", "application/x-xz",
     "application/x-tar"}
)
#: Output checked before a slow format is let through with a warning (see the docstring);
#: gzip has none: the 2 GB limit is reached within about 5 s.
CHECK_BUDGET = {"bzip2": 256 * 1024 * 1024, "xz": 1024 * 1024 * 1024}
_PIECE = 1024 * 1024
_HEAD = 512  # one tar header block: the ustar magic is at 257
_SPOOL_IN_MEMORY = 8 * 1024 * 1024
_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"))
_NESTABLE = frozenset({"", ".zip", ".tar", ".tgz", ".tbz", ".tbz2", ".txz", ".gz", ".bz2", ".xz"})
_DAMAGE = (OSError, EOFError, ValueError, tarfile.TarError, zipfile.BadZipFile,
           zipfile.LargeZipFile, NotImplementedError, RuntimeError)


def _decoder(kind: str) -> Callable[[IO[bytes]], IO[bytes]]:
    import bz2
    import gzip
    import lzma

    return {
        "gzip": lambda source: gzip.GzipFile(fileobj=source, mode="rb"),
        "bzip2": lambda source: bz2.BZ2File(source),
        "xz": lambda source: lzma.LZMAFile(source),
    }[kind]  # type: ignore[return-value]


def kind_of(head: bytes) -> str | None:
    """``gzip``, ``bzip2``, ``xz``, ``tar``, ``zip`` or ``None``, from the first bytes."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[257:262] == b"ustar":
        return "tar"
    return "zip" if archives.is_zip(head) else None


class _Stop(Exception):
    """The verdict is known (already in the findings): stop reading."""


class _OutOfBudget(Exception):
    """A slow format's budget is spent before a verdict: accept with a warning."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class _Walk:
    """What unpacking this file would produce, counted while it is read."""

    def __init__(self, size: int, findings: Findings) -> None:
        self.size = size
        self.findings = findings
        self.decompressed = 0  # bytes out of every decompressor, at every level
        self.declared = 0  # sizes tar headers (and nested zips) declare
        self.spent: dict[str, int] = {}
        self.entries = 0
        self.programs: list[str] = []

    def grow(self, *, decompressed: int = 0, declared: int = 0, kind: str = "") -> None:
        self.decompressed += decompressed
        self.declared += declared
        expanded = max(self.decompressed, self.declared)
        if expanded > MAX_EXPANDED_BYTES:
            self.refuse(
                "archive_too_large_expanded",
                f"The archive expands to more than {MAX_EXPANDED_BYTES // 1024**3} GB.",
            )
        if expanded >= RATIO_MIN_BYTES and expanded > MAX_RATIO * max(1, self.size):
            self.refuse(
                "archive_bomb",
                f"The archive expands to more than {expanded // (1024 * 1024)} MB from "
                f"{max(1, self.size // 1024)} KB (more than {MAX_RATIO}:1): a decompression "
                "bomb.",
            )
        if kind in CHECK_BUDGET:
            self.spent[kind] = self.spent.get(kind, 0) + decompressed
            if self.spent[kind] > CHECK_BUDGET[kind]:
                raise _OutOfBudget(kind)

    def refuse(self, code: str, message: str) -> None:
        self.findings.reject(code, message)
        raise _Stop

    def deeper(self, depth: int) -> int:
        if depth >= MAX_DEPTH:
            self.refuse(
                "archive_too_deep",
                f"The archive holds archives inside archives more than {MAX_DEPTH} levels deep.",
            )
        return depth + 1


class _Meter:
    """A decompressed stream that counts what comes out, and can show its head unread."""

    def __init__(self, source: IO[bytes], kind: str, walk: _Walk) -> None:
        self._source = _decoder(kind)(source)
        self._kind = kind
        self._walk = walk
        self._head = b""

    def peek(self, size: int) -> bytes:
        while len(self._head) < size:
            piece = self._pull(size - len(self._head))
            if not piece:
                break
            self._head += piece
        return self._head[:size]

    def read(self, size: int = -1) -> bytes:
        if self._head:
            cut = len(self._head) if size < 0 else size
            out, self._head = self._head[:cut], self._head[cut:]
            return out
        return self._pull(size)

    def drain(self) -> None:
        self._head = b""
        while self._pull(_PIECE):
            pass

    def _pull(self, size: int) -> bytes:
        piece = self._source.read(_PIECE if size < 0 else min(size, _PIECE))
        self._walk.grow(decompressed=len(piece), kind=self._kind)
        return piece


def check_compressed(path: Path, head: bytes, findings: Findings) -> None:
    """Look inside a gzip/bzip2/xz file or a tar archive without unpacking it anywhere."""
    kind = kind_of(head) or "tar"  # libmagic also knows old tars without the ustar magic
    try:
        with open_source(path) as handle:
            walk = _Walk(os.fstat(handle.fileno()).st_size, findings)
            try:
                if kind == "tar":
                    _tar(handle, 1, walk)
                elif kind != "zip":
                    _stream(handle, kind, 1, walk)
            except _OutOfBudget as spent:
                findings.warn(
                    "archive_not_fully_checked",
                    f"Only the first {CHECK_BUDGET[spent.kind] // (1024 * 1024)} MB inside this "
                    f"{spent.kind} archive were checked ({spent.kind} unpacks too slowly to "
                    "check it all); nothing wrong was found there.",
                )
    except _Stop:
        return
    except _DAMAGE as exc:
        detail = str(exc) or type(exc).__name__
        findings.reject("archive_damaged",
                        f"The archive is damaged or cut short and cannot be read ({detail}).")
        return
    if walk.programs:
        findings.warn(
            "archive_contains_programs",
            f"The archive contains programs ({walk.programs[0]}); they will not run from the "
            "server.",
        )


def _stream(source: IO[bytes], kind: str, depth: int, walk: _Walk) -> None:
    """A whole compressed stream: all of it is decompressed (that is the bomb check)."""
    meter = _Meter(source, kind, walk)
    inner = kind_of(meter.peek(_HEAD))
    if inner == "tar":
        _tar(meter, depth, walk)
    elif inner == "zip":
        walk.findings.warn(
            "archive_not_fully_checked",
            "The zip archive inside this compressed file was not opened; only its size was "
            "checked.",
        )
    elif inner is not None:
        _stream(meter, inner, walk.deeper(depth), walk)
    meter.drain()


def _tar(source: IO[bytes], depth: int, walk: _Walk) -> None:
    links: dict[str, str] = {}
    with tarfile.open(fileobj=source, mode="r|", bufsize=_PIECE,
                      tarinfo=tar_members.GuardedInfo) as archive:
        for member in archive:
            walk.entries += 1
            if walk.entries > MAX_ENTRIES:
                walk.refuse("archive_too_many_entries",
                            f"The archive holds more than {MAX_ENTRIES:,} files.")
            problem = tar_members.problem(member, links)
            if problem:
                walk.refuse(*problem)
            if tar_members.is_program(member.name):
                walk.programs.append(printable_name(member.name))  # names may not be UTF-8
            if member.isreg():
                walk.grow(declared=member.size)
                _nested(archive, member, depth, walk)
        _after_end(archive.fileobj, walk)


def _nested(archive: tarfile.TarFile, member: tarfile.TarInfo, depth: int, walk: _Walk) -> None:
    """An archive inside the tar: a tar (compressed or not) is walked as it streams past,
    a zip is spooled and checked by ``archives.py``; other members are not read at all."""
    extension = effective_extension(member.name)
    if extension not in _NESTABLE or member.size < 22:
        return
    data = archive.extractfile(member)
    if data is None:
        return
    with data:
        kind = kind_of(data.peek(_HEAD)[:_HEAD])
        if kind == "tar":
            _tar(data, walk.deeper(depth), walk)
        elif kind == "zip" and extension in {"", ".zip"}:
            _zip(data, walk.deeper(depth), walk)
        elif kind in {"gzip", "bzip2", "xz"}:
            meter = _Meter(data, kind, walk)
            if kind_of(meter.peek(_HEAD)) == "tar":
                _tar(meter, walk.deeper(depth), walk)
                meter.drain()


def _zip(data: IO[bytes], depth: int, walk: _Walk) -> None:
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as spool:
        shutil.copyfileobj(data, spool, _PIECE)
        spool.seek(0)
        walk.entries, expanded = archives.walk_inner_zip(
            spool, depth, walk.entries, walk.findings  # type: ignore[arg-type]
        )
    if walk.findings.reasons:
        raise _Stop
    walk.grow(declared=expanded)


def _after_end(stream: IO[bytes], walk: _Walk) -> None:
    """What follows the tar's end must be padding: ``tarfile`` stops at the first bad
    header, GNU tar skips it and goes on, so anything else may be files we never saw."""
    while piece := stream.read(_PIECE):
        if piece.count(0) != len(piece):
            walk.refuse(
                "archive_damaged",
                "The archive has data after its end (a damaged header or a second archive "
                "joined on) that some programs would still unpack; pack it again.",
            )
