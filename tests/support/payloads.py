"""Incompressible test content that is the same on every run.

``os.urandom`` starts with a program's magic number (``MZ``) about once in 65,536
files, and the validation rightly refuses programs: a test uploading random bytes to
our server then fails by chance. Seeded bytes are checked once and for all by the
tests that use them.
"""

from __future__ import annotations

import random
from pathlib import Path

PIECE = 1024 * 1024


def blob(size: int, seed: int | str = 7) -> bytes:
    return random.Random(seed).randbytes(size)


def write_blob(path: Path, size: int, seed: int | str | None = None) -> Path:
    """Write ``size`` seeded bytes in 1 MiB pieces; the seed defaults to the file's name,
    so two files of one test differ."""
    rng = random.Random(path.name if seed is None else seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        left = size
        while left:
            piece = rng.randbytes(min(left, PIECE))
            out.write(piece)
            left -= len(piece)
    return path
