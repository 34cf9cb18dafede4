"""Where the server keeps bytes. Every path is made from a server-generated id.

No filename, relative path or other client-supplied value ever becomes part of a
filesystem path: ids are checked against ``ID_PATTERN`` before use.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")


class InvalidId(ValueError):
    pass


def new_id() -> str:
    return uuid.uuid4().hex


def check_id(value: str) -> str:
    if not ID_PATTERN.match(value):
        raise InvalidId(value)
    return value


def write_new_file(path: Path, pieces: Sequence[bytes], hasher: Any = None) -> int:
    """Create ``path`` (which must not exist) holding ``pieces``; feed ``hasher`` too."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        for piece in pieces:
            view = memoryview(piece)
            while view:
                view = view[os.write(fd, view):]
            if hasher is not None:
                hasher.update(piece)
    finally:
        os.close(fd)
    return sum(len(p) for p in pieces)


class Storage:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.uploads_dir = self.root / "uploads"  # tus uploads still receiving
        self.files_dir = self.root / "files"  # completed, validated files
        self.tmp_dir = self.root / "tmp"  # direct (multipart) uploads being received
        for path in (self.uploads_dir, self.files_dir, self.tmp_dir):
            path.mkdir(parents=True, exist_ok=True)

    def upload_path(self, upload_id: str) -> Path:
        return self.uploads_dir / f"{check_id(upload_id)}.part"

    def file_path(self, file_id: str) -> Path:
        check_id(file_id)
        return self.files_dir / file_id[:2] / file_id

    def temp_path(self, token: str) -> Path:
        return self.tmp_dir / f"{check_id(token)}.tmp"

    def store(self, src: Path, file_id: str) -> Path:
        """Move a finished file into final storage atomically (same filesystem)."""
        dest = self.file_path(file_id)
        try:
            os.replace(src, dest)
        except FileNotFoundError:  # the first file of its fan-out folder (or src is gone)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dest)
        return dest

    def remove_file(self, file_id: str) -> None:
        self.file_path(file_id).unlink(missing_ok=True)
