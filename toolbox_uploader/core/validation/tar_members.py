"""One tar member at a time: where unpacking it would write, what its links reach, its type.

A link is followed through the links the archive made before it, as ``tar`` would when
unpacking in order: ``a -> b/..`` looks harmless on its own, but not after ``b -> ..``.
Metadata headers (long names, pax) are read whole by ``tarfile``, so a header that claims
gigabytes is refused before it is read.
"""

from __future__ import annotations

import re
import tarfile
from typing import Any

from toolbox_uploader.core.validation.names import EXECUTABLE_EXTENSIONS, effective_extension

#: Long names and pax records are a few hundred bytes; 1 MiB leaves room for odd ones.
MAX_METADATA_BYTES = 1024 * 1024
_METADATA_TYPES = frozenset({tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK,
                             tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE})
_MAX_HOPS = 40  # as the Linux kernel: a loop of links ends there, outside nothing
_DRIVE = re.compile(r"^[A-Za-z]:")


class GuardedInfo(tarfile.TarInfo):
    """``TarInfo`` that refuses oversized metadata headers before ``tarfile`` reads them
    into memory (``_proc_member`` is tarfile's documented hook for subclasses)."""

    def _proc_member(self, tarfile: Any) -> Any:
        if self.type in _METADATA_TYPES and self.size > MAX_METADATA_BYTES:
            raise ValueError(f"a {self.size:,}-byte metadata header")
        return super()._proc_member(tarfile)  # type: ignore[misc]


def is_program(name: str) -> bool:
    return effective_extension(name) in EXECUTABLE_EXTENSIONS


def problem(member: tarfile.TarInfo, links: dict[str, str]) -> tuple[str, str] | None:
    """A (code, message) refusal for ``member``, or ``None``; records symlinks in ``links``
    (normalised name -> target as written) for the members after it."""
    name = member.name
    if _escapes(name):
        return ("archive_path_traversal",
                f"The archive has an entry that would unpack outside its folder ({name!r}).")
    path = _parts(name)
    folder = "/".join(path[:-1])
    if resolve(folder, links) is None:
        return ("archive_path_traversal",
                f"The archive has an entry that would unpack through a link to outside its "
                f"folder ({name!r}).")
    if member.issym() or member.islnk():
        target = member.linkname
        start = f"{folder}/{target}" if member.issym() else target
        if _absolute(target) or resolve(start, links) is None:
            return ("archive_path_traversal",
                    f"The archive has a link that points outside its folder "
                    f"({name!r} -> {target!r}).")
    if member.ischr() or member.isblk() or member.isfifo():
        return ("archive_special_files",
                f"The archive holds a device or pipe entry ({name!r}); no document needs one "
                "and unpacking it can give access to a disk or make programs hang.")
    key = "/".join(path)
    if member.issym():
        links[key] = member.linkname
    else:
        links.pop(key, None)  # a file or folder that replaces a link
    return None


def resolve(path: str, links: dict[str, str]) -> str | None:
    """Where ``path`` (from the archive's folder) ends up once the archive's links are
    followed; ``None`` when that is outside the folder."""
    pending = _parts(path)[::-1]
    done: list[str] = []
    hops = 0
    while pending:
        part = pending.pop()
        if part == "..":
            if not done:
                return None
            done.pop()
            continue
        done.append(part)
        target = links.get("/".join(done))
        if target is None:
            continue
        hops += 1
        if hops > _MAX_HOPS:
            break  # a loop: unpacking stops with an error there, nothing is written outside
        if _absolute(target):
            return None
        done.pop()
        pending.extend(_parts(target)[::-1])
    return "/".join(done)


def _parts(path: str) -> list[str]:
    return [p for p in path.replace("\\", "/").split("/") if p not in {"", "."}]


def _absolute(path: str) -> bool:
    return path.startswith(("/", "\\")) or _DRIVE.match(path) is not None


def _escapes(name: str) -> bool:
    return _absolute(name) or ".." in name.replace("\\", "/").split("/")
